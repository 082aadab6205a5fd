import { describe, expect, it } from 'vitest'
import { snapshot } from '../test/fixtures'
import { mountApp } from '../test/mountApp'
import type { RunStatus } from '../services/types'
import RunStages from './RunStages.vue'

const parts = { task_instruction: 'Transform the INPUT according to the CONTEXT.', context: 'Whisper it on.', input: 'a red house' }

function mountStages(status: RunStatus | null, modelValue = '') {
  return mountApp(RunStages, { props: { status, modelValue }, lang: 'en' }).wrapper
}

function stateOf(wrapper: ReturnType<typeof mountStages>, step: string) {
  return wrapper.find(`[data-testid="stage-box-${step}"]`).attributes('data-state')
}

describe('RunStages', () => {
  it('marks earlier steps done and the current one running', () => {
    const wrapper = mountStages(snapshot({ stage: 'stage1', step: 'translation' }))
    expect([stateOf(wrapper, 'safety'), stateOf(wrapper, 'translation'), stateOf(wrapper, 'interception')])
      .toEqual(['done', 'running', 'pending'])
    expect(wrapper.find('[data-testid="stage-box-safety"]').text()).toContain('checked and is fine')
  })

  it('shows the description of a student\'s picture as part of preparing the input, not as a finished run', () => {
    const wrapper = mountStages(snapshot({ stage: 'stage1', step: 'image_description' }))
    expect([stateOf(wrapper, 'safety'), stateOf(wrapper, 'translation'), stateOf(wrapper, 'interception')])
      .toEqual(['done', 'running', 'pending'])
  })

  it('shows the three parts and each recursive iteration with its language as it arrives', async () => {
    const running = snapshot({
      stage: 'stage2', step: 'interception', translation: 'a red house',
      interception: { ...parts, iterations: [{ index: 1, language: 'fr', text: 'une maison rouge' }], result: null },
    })
    const wrapper = mountStages(running)
    const box = wrapper.find('[data-testid="stage-box-interception"]')
    expect(box.find('[data-testid="three-parts"]').text()).toContain(parts.task_instruction)
    expect(box.text()).toContain('Whisper it on.')
    expect(box.text()).toContain('Input (your idea)')
    expect(box.find('[data-testid="iteration-1"]').text()).toContain('French')
    expect(box.find('[data-testid="iteration-2"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="interception-result"]').exists()).toBe(false)

    await wrapper.setProps({
      status: { ...running, interception: { ...running.interception!, iterations: [
        { index: 1, language: 'fr', text: 'une maison rouge' },
        { index: 2, language: 'ja', text: '赤い家' },
      ] } },
    })
    expect(wrapper.find('[data-testid="iteration-2"]').text()).toContain('Japanese')
    expect(wrapper.find('[data-testid="iteration-2"]').text()).toContain('赤い家')
  })

  it('shows the English back-translation a pass in another language was checked in', () => {
    const wrapper = mountStages(snapshot({
      stage: 'stage2', step: 'interception', translation: 'a red house',
      interception: { ...parts, result: null, iterations: [
        { index: 1, language: 'ja', text: '赤い家', back_translation: 'a red house' },
        { index: 2, language: 'en', text: 'a red house', back_translation: null },
      ] },
    }))
    expect(wrapper.find('[data-testid="back-translation-1"]').text()).toBe('Checked in English: a red house')
    expect(wrapper.find('[data-testid="back-translation-2"]').exists()).toBe(false)
  })

  it('offers the result for editing once the interception has succeeded', async () => {
    const done = snapshot({
      status: 'succeeded', stage: 'stage2', step: 'interception',
      interception: { ...parts, iterations: [], result: 'A HOUSE! red! red!' },
    })
    const wrapper = mountApp(RunStages, {
      props: { status: done, modelValue: 'A HOUSE! red! red!', 'onUpdate:modelValue': (v: string) => wrapper.setProps({ modelValue: v }) },
      lang: 'en',
    }).wrapper
    const result = wrapper.find<HTMLTextAreaElement>('[data-testid="interception-result"]')
    expect(result.element.value).toBe('A HOUSE! red! red!')
    await result.setValue('A house, quietly red')
    expect(wrapper.emitted('update:modelValue')?.at(-1)).toEqual(['A house, quietly red'])
    expect(stateOf(wrapper, 'interception')).toBe('done')
    expect(wrapper.find('[data-testid="stage-box-translation"]').text()).toContain('No translation needed')
  })

  it('says when the original text was kept untranslated and when the transformation was not usable', () => {
    const wrapper = mountStages(snapshot({
      status: 'succeeded', stage: 'stage2', step: 'interception', translation: null,
      interception: { ...parts, input: 'Ein Fuchs im Schnee', iterations: [], result: 'Ein Fuchs im Schnee' },
      notices: [{ stage: 'stage1', step: 'translation', code: 'not_translated' },
        { stage: 'stage2', step: 'interception', code: 'interception_kept_input' }],
    }), 'Ein Fuchs im Schnee')
    const translation = wrapper.find('[data-testid="stage-box-translation"]').text()
    expect(translation).toContain('not translated')
    expect(translation).not.toContain('No translation needed')
    expect(wrapper.find('[data-testid="quality-notice-interception_kept_input"]').text()).toContain('your text was kept')
  })

  it('marks the safety box blocked when Stage 1 blocks the input', () => {
    const blocked = snapshot({
      status: 'blocked', stage: 'stage1', step: null,
      block: { stage: 'stage1', checkpoint: 'input', category: 'p86a', message: {} },
    })
    const wrapper = mountStages(blocked)
    expect([stateOf(wrapper, 'safety'), stateOf(wrapper, 'translation'), stateOf(wrapper, 'interception')])
      .toEqual(['blocked', 'pending', 'pending'])
  })

  it('shows every Stage 1/2 box done while a later phase runs', () => {
    const wrapper = mountStages(snapshot({ phase: 'optimize', stage: 'optimization', step: 'optimization' }))
    expect(['safety', 'translation', 'interception'].map((s) => stateOf(wrapper, s))).toEqual(['done', 'done', 'done'])
  })
})
