import { describe, expect, it } from 'vitest'
import { mountApp } from '../test/mountApp'
import type { DraftScene } from '../composables/useStoryboard'
import type { Block, RunOutput } from '../services/types'
import StoryboardScene from './StoryboardScene.vue'

const block: Block = {
  stage: 'stage2', checkpoint: 'user_edit', category: 'violence_graphic',
  message: { en: { title: 'We stop here', what: 'Too scary.', why: 'Children use this.', try_instead: 'A picnic.' } },
}
const scene: DraftScene = { key: 's1', id: 's1', description: 'A cat on a roof', generation_prompt: 'grey cat, roof, night',
  blocked: null, output: 0, changed: false }
const picture: RunOutput = { index: 0, output_config: 'sketch_offline', media_type: 'image', status: 'succeeded',
  prompt: 'grey cat', negative_prompt: '', seed: 7, url: '/api/media/image/r/0', mime: 'image/png', progress: null,
  queue_position: null, error: null, block: null, file: '05_output_image.png', scene: 's1' }
const props = { scene, position: 1, total: 4, state: 'done' as const, output: picture, editable: true, canAnimate: false }

describe('StoryboardScene', () => {
  it('shows the picture, the state and the editable texts, and reports edits', async () => {
    const { wrapper } = mountApp(StoryboardScene, { props, lang: 'en' })
    expect(wrapper.find('img').attributes('src')).toContain('/api/media/image/r/0')
    expect(wrapper.find('[data-testid="scene-state"]').text()).toBe('done')
    await wrapper.find('[data-testid="scene-description"]').setValue('A cat in a rocket')
    expect(wrapper.emitted('edit')?.[0]).toEqual(['description', 'A cat in a rocket'])
  })

  it('explains a blocked scene and asks for new text instead of showing the old one', () => {
    const blocked = { ...scene, description: '', generation_prompt: '', blocked: block, output: null }
    const { wrapper } = mountApp(StoryboardScene, { props: { ...props, scene: blocked, state: 'blocked', output: null }, lang: 'en' })
    expect(wrapper.find('[data-testid="blocked-card"]').text()).toContain('We stop here')
    expect(wrapper.text()).toContain('Rewrite both texts')
    expect(wrapper.find('img').exists()).toBe(false)
  })

  it('offers "animate" only when an image → video output is available and the picture is done', () => {
    expect(mountApp(StoryboardScene, { props, lang: 'en' }).wrapper.find('[data-testid="scene-animate"]').exists()).toBe(false)
    const { wrapper } = mountApp(StoryboardScene, { props: { ...props, canAnimate: true }, lang: 'en' })
    expect(wrapper.find('[data-testid="scene-animate"]').exists()).toBe(true)
  })

  it('cannot move the first scene up or remove the only scene', () => {
    const { wrapper } = mountApp(StoryboardScene, { props: { ...props, total: 1 }, lang: 'en' })
    expect(wrapper.find('[data-testid="scene-remove"]').attributes('disabled')).toBeDefined()
    expect(wrapper.findAll('button')[0].attributes('disabled')).toBeDefined()
  })
})
