import { describe, expect, it } from 'vitest'
import { output, snapshot } from '../test/fixtures'
import { mountApp } from '../test/mountApp'
import type { RunOutput } from '../services/types'
import OutputResults from './OutputResults.vue'

function runOutput(overrides: Partial<RunOutput> & { index: number }): RunOutput {
  return {
    output_config: 'sketch_offline', media_type: 'image', status: 'queued', prompt: 'a red house',
    negative_prompt: null, seed: null, url: null, mime: null, progress: null, queue_position: null,
    error: null, block: null, ...overrides,
  }
}

function mountResults(outputs: RunOutput[], stage = 'stage4') {
  const status = snapshot({ phase: 'generation', stage, step: 'generation', outputs })
  const configs = [output({ id: 'sketch_offline', name: 'Offline sketch' }), output({ id: 'sd35', name: 'SD 3.5' })]
  return mountApp(OutputResults, { props: { status, configs }, lang: 'en' }).wrapper
}

describe('OutputResults', () => {
  it('shows real progress from the backend and an indeterminate bar when there is none', () => {
    const wrapper = mountResults([
      runOutput({ index: 0, status: 'running', progress: { current: 3, total: 20 } }),
      runOutput({ index: 1, output_config: 'sd35', status: 'queued', queue_position: 2 }),
    ])
    const bar = wrapper.find<HTMLProgressElement>('[data-testid="progress-0"]')
    expect(bar.element.value).toBe(3)
    expect(bar.element.max).toBe(20)
    expect(wrapper.find('[data-testid="output-result-0"]').text()).toContain('3 of 20')
    expect(wrapper.find('[data-testid="output-result-1"]').text()).toContain('Position 2 in the queue')
    expect(wrapper.find('[data-testid="verdict-1"]').text()).toContain('Waiting for the final safety check')
  })

  it('shows an indeterminate bar while a running output reports no progress', () => {
    const wrapper = mountResults([runOutput({ index: 0, status: 'running', progress: null })], 'stage3')
    expect(wrapper.find('[data-testid="progress-0"]').attributes('value')).toBeUndefined()
    expect(wrapper.find('[data-testid="verdict-0"]').text()).toContain('Final safety check running')
  })

  it('shows each finished output side by side, a blocked one with its child-friendly card', async () => {
    const block = {
      stage: 'stage3', checkpoint: 'output', category: 'violence',
      message: { en: { title: 'Not this picture', what: 'w', why: 'y', try_instead: 't' } },
    }
    const wrapper = mountResults([
      runOutput({ index: 0, status: 'succeeded', url: '/api/media/image/run-1/0', seed: 42 }),
      runOutput({ index: 1, output_config: 'sd35', status: 'blocked', block }),
      runOutput({ index: 2, output_config: 'sd35', status: 'failed', error: { code: 'backend_timeout', message: 'The image model took too long.' } }),
    ])
    expect(wrapper.find('[data-testid="output-media-0"]').element.tagName).toBe('IMG')
    expect(wrapper.find('[data-testid="output-result-0"]').text()).toContain('Final safety check passed')
    expect(wrapper.find('[data-testid="output-result-0"]').text()).toContain('Seed: 42')
    expect(wrapper.find('[data-testid="output-result-1"] [data-testid="blocked-card"]').text()).toContain('Not this picture')
    const failed = wrapper.find('[data-testid="output-result-2"]')
    expect(failed.text()).toContain('The image model took too long.')
    await failed.find('[data-testid="retry-button"]').trigger('click')
    expect(wrapper.emitted('retry')).toEqual([['sd35']])
  })
})
