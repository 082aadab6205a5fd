/**
 * The student flow against a loopback fake of the API: what the student types and edits is what
 * the server receives, and what the server reports is what the student sees.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { setApiBase } from '../services/api'
import { useRecentRunsStore } from '../stores/recentRuns'
import { useStudentStore } from '../stores/student'
import type { RunStatus } from '../services/types'
import { startFakeApi, until, type FakeApi, type FakeRequest } from '../test/fakeApi'
import { attitude, output, snapshot } from '../test/fixtures'
import { mountApp } from '../test/mountApp'
import StudentView from './StudentView.vue'

const accepted = { run_id: 'run-7', status: 'queued', status_url: '/api/pipeline/run-7/status', events_url: '/api/pipeline/run-7/events' }
const blockMessage = { title: 'Let us stop here', what: 'Your idea names a forbidden symbol.', why: 'It hurts people.', try_instead: 'Draw a dragon.' }

let api: FakeApi
let status: RunStatus

function posted(path: string): FakeRequest[] {
  return api.requests.filter((r) => r.method === 'POST' && r.path === path)
}

beforeEach(async () => {
  window.localStorage.clear()
  status = snapshot({ run_id: 'run-7', status: 'queued' })
  api = await startFakeApi({
    'GET /api/configs/interception': () => ({
      json: { lang: 'en', configs: [attitude({ id: 'dada', name: 'Dada' }), attitude({ id: 'own', name: 'Own rules', user_defined: true })] },
    }),
    'GET /api/configs/dada': () => ({ json: { ...attitude({ id: 'dada' }), context: 'Cut the idea into pieces.', prompt_structure: { task_instruction: 'T', context: 'C' } } }),
    'GET /api/configs/own': () => ({ json: { ...attitude({ id: 'own', user_defined: true }), context: '', prompt_structure: { task_instruction: 'T', context: '' } } }),
    'GET /api/configs/outputs': () => ({
      json: { lang: 'en', outputs: [
        output({ id: 'sketch_offline', name: 'Offline sketch' }),
        output({ id: 'sd35_img2img', name: 'Repaint my picture', backend: 'comfyui', takes_image: true, takes_denoise: true }),
        output({ id: 'stable_audio', media_type: 'audio', available: false, unavailable_reason: 'No GPU here' }),
      ] },
    }),
    'POST /api/safety/check': (req) => {
      const text = (req.body as { text: string }).text
      const block = text.includes('forbidden')
      return { json: { verdict: { decision: block ? 'block' : 'allow', category: null, checkpoint: 'input', level: 'youth' }, message: block ? blockMessage : null } }
    },
    'POST /api/schema/pipeline/stage2': (req) => {
      const body = req.body as { input_text: string; context_prompt: string }
      status = body.input_text.includes('forbidden')
        ? snapshot({ run_id: 'run-7', status: 'blocked', stage: 'stage1', step: null,
          block: { stage: 'stage1', checkpoint: 'input', category: 'p86a', message: { en: blockMessage } } })
        : snapshot({ run_id: 'run-7', status: 'succeeded', stage: 'stage2', step: 'interception', translation: 'a red house',
          interception: { task_instruction: 'Transform the INPUT.', context: body.context_prompt, input: body.input_text, iterations: [], result: 'RED! house! RED!' } })
      return { status: 202, json: accepted }
    },
    'POST /api/schema/pipeline/optimize': (req) => {
      const body = req.body as { output_config: string; prompt: string }
      status = { ...status, phase: 'optimize', status: 'succeeded', optimizations: {
        [body.output_config]: { instruction: 'Describe it visually.', input: body.prompt, result: `picture of ${body.prompt}`, status: 'succeeded' },
      } }
      return { status: 202, json: accepted }
    },
    'POST /api/schema/pipeline/generation': (req) => {
      const body = req.body as { output_configs: string[]; seed?: number }
      status = { ...status, phase: 'generation', status: 'succeeded', outputs: body.output_configs.map((id, index) => ({
        index, output_config: id, media_type: 'image', status: 'succeeded', prompt: 'p', negative_prompt: null,
        seed: body.seed ?? 1, url: `/api/media/image/run-7/${index}`, mime: 'image/png', progress: { current: 1, total: 1 },
        queue_position: null, error: null, block: null,
      })) }
      return { status: 202, json: accepted }
    },
    'GET /api/pipeline/run-7/status': () => ({ json: status }),
  })
  setApiBase(api.url)
})

afterEach(async () => {
  setApiBase(null)
  await api.close()
})

async function ready() {
  const { wrapper } = mountApp(StudentView, { lang: 'en' })
  await until(() => wrapper.find('[data-testid="attitude-dada"]').exists(), 3000, 'the attitude list')
  return wrapper
}

describe('StudentView', () => {
  it('sends the student’s own texts and edits at every step and shows the generated image', async () => {
    const wrapper = await ready()
    await wrapper.find('[data-testid="idea-input"]').setValue('a red house')
    expect(wrapper.find('[data-testid="start-button"]').attributes('disabled')).toBeDefined()
    await wrapper.find('[data-testid="attitude-dada"]').trigger('click')
    const rules = wrapper.find<HTMLTextAreaElement>('[data-testid="rules-input"]')
    await until(() => rules.element.value === 'Cut the idea into pieces.', 3000, 'the config context')
    await rules.setValue('Cut the idea into pieces. Use only capitals.')

    await wrapper.find('[data-testid="start-button"]').trigger('click')
    await until(() => posted('/api/schema/pipeline/stage2').length === 1, 3000, 'the stage2 request')
    expect(posted('/api/schema/pipeline/stage2')[0].body).toEqual({
      schema: 'dada', input_text: 'a red house', context_prompt: 'Cut the idea into pieces. Use only capitals.', lang: 'en',
    })
    await until(() => wrapper.find('[data-testid="interception-result"]').exists(), 3000, 'the interception result')
    expect(wrapper.find('[data-testid="three-parts"]').text()).toContain('Use only capitals.')
    const result = wrapper.find<HTMLTextAreaElement>('[data-testid="interception-result"]')
    expect(result.element.value).toBe('RED! house! RED!')
    await result.setValue('RED house')

    expect(wrapper.find('[data-testid="output-option-stable_audio"]').text()).toContain('No GPU here')
    await wrapper.find('[data-testid="output-option-sketch_offline"]').trigger('click')
    await until(() => posted('/api/schema/pipeline/optimize').length === 1, 3000, 'the optimize request')
    expect(posted('/api/schema/pipeline/optimize')[0].body).toEqual({ run_id: 'run-7', output_config: 'sketch_offline', prompt: 'RED house', lang: 'en' })
    const prompt = () => wrapper.find<HTMLTextAreaElement>('[data-testid="optimized-prompt-sketch_offline"]')
    await until(() => prompt().exists(), 3000, 'the optimized prompt')
    expect(prompt().element.value).toBe('picture of RED house')
    await prompt().setValue('a red house, bold strokes')
    await wrapper.find('#seed-input').setValue('42')

    await wrapper.find('[data-testid="generate-button"]').trigger('click')
    await until(() => posted('/api/schema/pipeline/generation').length === 1, 3000, 'the generation request')
    expect(posted('/api/schema/pipeline/generation')[0].body).toEqual({
      run_id: 'run-7', output_configs: ['sketch_offline'], prompts: { sketch_offline: 'a red house, bold strokes' }, seed: 42, lang: 'en',
    })
    await until(() => wrapper.find('[data-testid="output-media-0"]').exists(), 3000, 'the image')
    expect(wrapper.find('[data-testid="output-media-0"]').attributes('src')).toBe(`${api.url}/api/media/image/run-7/0`)
    expect(useRecentRunsStore().runs[0].id).toBe('run-7')
  })

  it('asks for a picture and how much it may change before an output that starts from one can run', async () => {
    const wrapper = await ready()
    await wrapper.find('[data-testid="idea-input"]').setValue('a red house')
    await wrapper.find('[data-testid="attitude-dada"]').trigger('click')
    await until(() => !wrapper.find('[data-testid="start-button"]').attributes('disabled'), 3000, 'a startable run')
    expect(wrapper.find('[data-testid="picture-upload"]').exists()).toBe(false) // the attitude takes none
    await wrapper.find('[data-testid="start-button"]').trigger('click')
    await until(() => wrapper.find('[data-testid="interception-result"]').exists(), 3000, 'the interception result')

    await wrapper.find('[data-testid="output-option-sd35_img2img"]').trigger('click')
    const prompt = () => wrapper.find<HTMLTextAreaElement>('[data-testid="optimized-prompt-sd35_img2img"]')
    await until(() => prompt().exists(), 3000, 'the optimized prompt')
    expect(wrapper.find('[data-testid="output-picture-hint"]').text()).toContain('starts from your picture')
    expect(wrapper.find('[data-testid="picture-upload"]').exists()).toBe(true)
    const slider = wrapper.find<HTMLInputElement>('[data-testid="denoise-input"]')
    expect(slider.element.value).toBe('0.6')
    expect(wrapper.find('[data-testid="generate-button"]').attributes('disabled')).toBeDefined() // no picture yet

    // what PictureUpload stores once the server took the file (the upload itself runs in Chromium, e2e)
    const stored = { run_id: 'run-up', file: '01_user_input_image.png', input_image: '01_user_input_image.png',
      mime: 'image/png', width: 4, height: 3, bytes: 90 }
    useStudentStore().picture = { file: new Blob(), name: 'me.png', previewUrl: 'blob:me', stored, used: false }
    await until(() => !wrapper.find('[data-testid="generate-button"]').attributes('disabled'), 3000, 'generation allowed')
    expect(wrapper.find('[data-testid="picture-preview"]').attributes('src')).toBe('blob:me')
    await slider.setValue('0.3')
    await wrapper.find('[data-testid="generate-button"]').trigger('click')
    await until(() => posted('/api/schema/pipeline/generation').length === 1, 3000, 'the generation request')
    expect(posted('/api/schema/pipeline/generation')[0].body).toMatchObject({
      run_id: 'run-7', output_configs: ['sd35_img2img'], input_image: 'run-up/01_user_input_image.png', denoise: 0.3,
    })
  })

  it('hints early and explains a Stage 1 block in child-friendly words', async () => {
    const wrapper = await ready()
    const idea = wrapper.find('[data-testid="idea-input"]')
    await idea.setValue('a forbidden symbol')
    await idea.trigger('blur')
    await until(() => wrapper.find('[data-testid="idea-hint"]').exists(), 3000, 'the safety hint')
    expect(wrapper.find('[data-testid="idea-hint"]').text()).toContain('Draw a dragon.')

    await wrapper.find('[data-testid="attitude-dada"]').trigger('click')
    await until(() => wrapper.find<HTMLTextAreaElement>('[data-testid="rules-input"]').element.value !== '', 3000, 'rules')
    await wrapper.find('[data-testid="start-button"]').trigger('click')
    await until(() => wrapper.find('[data-testid="blocked-card"]').exists(), 3000, 'the blocked card')
    const card = wrapper.find('[data-testid="blocked-card"]').text()
    expect(card).toContain('Let us stop here')
    expect(card).toContain('It hurts people.')
    expect(wrapper.find('[data-testid="stage-box-safety"]').attributes('data-state')).toBe('blocked')
    expect(wrapper.find('[data-testid="output-option-sketch_offline"]').attributes('disabled')).toBeDefined()
  })

  it('asks for own rules before a user-defined attitude can start', async () => {
    const wrapper = await ready()
    await wrapper.find('[data-testid="idea-input"]').setValue('a cat')
    await wrapper.find('[data-testid="attitude-own"]').trigger('click')
    await until(() => api.requests.some((r) => r.path === '/api/configs/own'), 3000, 'the config')
    const rules = wrapper.find<HTMLTextAreaElement>('[data-testid="rules-input"]')
    expect(rules.element.value).toBe('')
    expect(rules.attributes('placeholder')).toContain('Write your own rules')
    expect(wrapper.find('[data-testid="start-button"]').attributes('disabled')).toBeDefined()
    await rules.setValue('Everything becomes a song.')
    expect(wrapper.find('[data-testid="start-button"]').attributes('disabled')).toBeUndefined()
  })

  it('shows a friendly error with a retry when the server refuses to start', async () => {
    const wrapper = await ready()
    await wrapper.find('[data-testid="idea-input"]').setValue('a red house')
    await wrapper.find('[data-testid="attitude-dada"]').trigger('click')
    await until(() => wrapper.find<HTMLTextAreaElement>('[data-testid="rules-input"]').element.value !== '', 3000, 'rules')
    await api.close()
    api = await startFakeApi({
      'POST /api/schema/pipeline/stage2': () => ({ status: 400, json: { error: { code: 'invalid_request', message: 'The idea is too long.', details: {} } } }),
    })
    setApiBase(api.url)
    await wrapper.find('[data-testid="start-button"]').trigger('click')
    await until(() => wrapper.find('[data-testid="error-card"]').exists(), 3000, 'the error card')
    expect(wrapper.find('[data-testid="error-card"]').text()).toContain('The idea is too long.')
    await wrapper.find('[data-testid="retry-button"]').trigger('click')
    await until(() => posted('/api/schema/pipeline/stage2').length === 2, 3000, 'the retried request')
  })

  it('reloads attitudes and outputs in the new language when the student switches', async () => {
    const { wrapper, i18n } = mountApp(StudentView, { lang: 'en' })
    await until(() => wrapper.find('[data-testid="attitude-dada"]').exists(), 3000, 'the attitude list')
    i18n.global.locale.value = 'de'
    const langs = () => api.requests.filter((r) => r.path === '/api/configs/interception').map((r) => r.query.get('lang'))
    await until(() => langs().length === 2, 3000, 'the reload')
    expect(langs()).toEqual(['en', 'de'])
  })
})
