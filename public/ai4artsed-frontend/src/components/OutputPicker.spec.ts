import { describe, expect, it } from 'vitest'
import { output } from '../test/fixtures'
import { mountApp } from '../test/mountApp'
import OutputPicker from './OutputPicker.vue'

const outputs = [
  output({ id: 'sketch_offline', name: 'Offline sketch', media_type: 'image', estimated_duration_seconds: 2 }),
  output({ id: 'stable_audio', name: 'Stable Audio', media_type: 'audio', available: false, unavailable_reason: 'ComfyUI is not reachable' }),
  output({ id: 'sd35_large', name: 'SD 3.5', media_type: 'image', estimated_duration_seconds: 180 }),
  output({ id: 'p5_code', name: 'p5.js', media_type: 'code' }),
]

describe('OutputPicker', () => {
  it('groups outputs by media type in API order', () => {
    const { wrapper } = mountApp(OutputPicker, { props: { outputs, selected: [], disabled: false, age: null } })
    const groups = wrapper.findAll('[role="group"]').map((g) => [g.find('h3').text(), g.findAll('button').length])
    expect(groups).toEqual([['Image', 2], ['Sound', 1], ['Code', 1]])
  })

  it('shows unavailable outputs disabled together with the server reason', () => {
    const { wrapper } = mountApp(OutputPicker, { props: { outputs, selected: [], disabled: false, age: null } })
    const audio = wrapper.find('[data-testid="output-option-stable_audio"]')
    expect(audio.attributes('disabled')).toBeDefined()
    expect(audio.text()).toContain('ComfyUI is not reachable')
    expect(wrapper.find('[data-testid="output-option-sketch_offline"]').attributes('disabled')).toBeUndefined()
  })

  it('shows the estimated duration in seconds or minutes', () => {
    const { wrapper } = mountApp(OutputPicker, { props: { outputs, selected: [], disabled: false, age: null } })
    expect(wrapper.find('[data-testid="output-option-sketch_offline"]').text()).toContain('about 2 seconds')
    expect(wrapper.find('[data-testid="output-option-sd35_large"]').text()).toContain('about 3 minutes')
  })

  it('toggles several outputs and marks the chosen ones pressed', async () => {
    const { wrapper } = mountApp(OutputPicker, { props: { outputs, selected: ['p5_code'], disabled: false, age: null } })
    expect(wrapper.find('[data-testid="output-option-p5_code"]').attributes('aria-pressed')).toBe('true')
    await wrapper.find('[data-testid="output-option-sketch_offline"]').trigger('click')
    expect(wrapper.emitted('toggle')).toEqual([['sketch_offline']])
  })

  it('disables every option until the interception is done', () => {
    const { wrapper } = mountApp(OutputPicker, { props: { outputs, selected: [], disabled: true, age: null } })
    expect(wrapper.findAll('button').every((b) => b.attributes('disabled') !== undefined)).toBe(true)
    expect(wrapper.text()).toContain('as soon as the transformation is done')
  })
})
