import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { setApiBase } from '../services/api'
import { startFakeApi, until, type FakeApi } from '../test/fakeApi'
import { mountApp } from '../test/mountApp'
import MediaPanel from './MediaPanel.vue'

const SKETCH = 'function setup() { createCanvas(200, 200) }\nfunction draw() { ellipse(50, 50, 80, 80) } // </script> in a comment'

let api: FakeApi
beforeEach(async () => {
  api = await startFakeApi({
    'GET /api/media/code/run-1/2': () => ({ text: SKETCH }),
    'GET /api/media/text/run-1/3': () => ({ text: 'Once upon a time' }),
  })
  setApiBase(api.url)
})
afterEach(async () => {
  setApiBase(null)
  await api.close()
})

function mountMedia(mediaType: string, index: number) {
  const url = `/api/media/${mediaType}/run-1/${index}`
  return mountApp(MediaPanel, { props: { mediaType, url, index, description: 'a red house' }, lang: 'en' }).wrapper
}

describe('MediaPanel', () => {
  it.each([
    ['image', 'IMG'],
    ['audio', 'AUDIO'],
    ['music', 'AUDIO'],
    ['video', 'VIDEO'],
  ])('shows %s media in a <%s> element from the media URL with a download link', (mediaType, tag) => {
    const wrapper = mountMedia(mediaType, 0)
    const media = wrapper.find('[data-testid="output-media-0"]')
    expect(media.element.tagName).toBe(tag)
    expect(media.attributes('src')).toBe(`${api.url}/api/media/${mediaType}/run-1/0`)
    if (tag !== 'IMG') expect(media.attributes('controls')).toBeDefined()
    else expect(media.attributes('alt')).toBe('a red house')
    expect(wrapper.find('a[download]').attributes('href')).toBe(`${api.url}/api/media/${mediaType}/run-1/0`)
  })

  it('shows generated code and runs it from its own page in a scripts-only sandbox', async () => {
    const wrapper = mountMedia('code', 2)
    await until(() => wrapper.find('[data-testid="sketch-code"]').exists(), 3000, 'the sketch code')
    expect(wrapper.find('[data-testid="sketch-code"]').text()).toBe(SKETCH)
    const frame = wrapper.find('[data-testid="sketch-frame"]')
    expect(frame.attributes('sandbox')).toBe('allow-scripts')
    expect(frame.attributes('src')).toBe(`${api.url}/api/media/code/run-1/2/frame`)
    expect(frame.attributes('srcdoc')).toBeUndefined() // an inline document would need inline scripts in the app
  })

  it('shows a note instead of the sketch when its own frame reports that p5.js is missing', async () => {
    const wrapper = mountMedia('code', 2)
    await until(() => wrapper.find('[data-testid="sketch-frame"]').exists(), 3000, 'the sketch frame')
    const frame = wrapper.find('[data-testid="sketch-frame"]').element as HTMLIFrameElement
    window.dispatchEvent(new MessageEvent('message', { data: 'p5-missing', source: window }))
    await wrapper.vm.$nextTick()
    expect(wrapper.find('[data-testid="sketch-p5-missing"]').exists()).toBe(false) // not from its frame: ignored
    window.dispatchEvent(new MessageEvent('message', { data: 'p5-missing', source: frame.contentWindow }))
    await until(() => wrapper.find('[data-testid="sketch-p5-missing"]').exists(), 3000, 'the p5 note')
    expect(wrapper.find('[data-testid="sketch-p5-missing"]').text()).toContain('p5.js')
  })

  it('shows generated text as text', async () => {
    const wrapper = mountMedia('text', 3)
    await until(() => wrapper.text().includes('Once upon a time'), 3000, 'the text')
    expect(wrapper.find('[data-testid="output-media-3"] blockquote').text()).toBe('Once upon a time')
  })

  it('offers a download for a media type it has no player for', () => {
    const wrapper = mountMedia('hologram', 4)
    expect(wrapper.find('[data-testid="output-media-4"]').text()).toContain('hologram')
    expect(wrapper.find('a[download]').exists()).toBe(true)
  })
})
