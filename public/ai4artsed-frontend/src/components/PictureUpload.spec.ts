import { describe, expect, it } from 'vitest'
import { newRunId } from '../services/api'
import { mountApp } from '../test/mountApp'
import PictureUpload from './PictureUpload.vue'

// Uploading itself is tested in real Chromium (tests/e2e/test_picture_upload.py): jsdom's FormData
// cannot travel through Node's fetch.

describe('newRunId', () => {
  it('makes uuid4 run ids the server accepts, without crypto.randomUUID (plain http on a school LAN)', () => {
    const ids = new Set(Array.from({ length: 50 }, () => newRunId()))
    expect(ids.size).toBe(50)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })
})

describe('PictureUpload', () => {
  it('offers the picker for pictures only, and the back camera on tablets', () => {
    const { wrapper } = mountApp(PictureUpload, { props: { lang: 'en', modelValue: null }, lang: 'en' })
    expect(wrapper.find('[data-testid="picture-input"]').attributes('accept')).toBe('image/png,image/jpeg,image/webp')
    expect(wrapper.find('[data-testid="picture-camera"]').attributes('capture')).toBe('environment')
    expect(wrapper.find('[data-testid="picture-preview"]').exists()).toBe(false)
  })

  it('shows the preview and size of a stored picture, and the reason when pictures cannot be described', () => {
    const stored = { run_id: 'r', file: '01_user_input_image.png', mime: 'image/png', width: 4, height: 3, bytes: 60 }
    const picture = { file: new Blob(), name: 'drawing.png', previewUrl: 'blob:preview', stored, used: false }
    const { wrapper } = mountApp(PictureUpload, {
      props: { lang: 'de', modelValue: picture, unavailableReason: 'Kein Modell' },
      lang: 'de',
    })
    expect(wrapper.find('[data-testid="picture-preview"]').attributes('src')).toBe('blob:preview')
    expect(wrapper.find('[data-testid="picture-size"]').text()).toContain('4 × 3')
    expect(wrapper.find('[data-testid="picture-unavailable"]').text()).toBe('Kein Modell')
  })
})
