/**
 * The config editor against a loopback fake API: the server's 422 problems appear next to their
 * fields, a fixed config is saved with what the teacher typed, a dry run shows the three parts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { setApiBase } from '../../services/api'
import { startFakeApi, until, type FakeApi } from '../../test/fakeApi'
import { mountApp } from '../../test/mountApp'
import ConfigEditorView from './ConfigEditorView.vue'

let api: FakeApi
const shipped = {
  id: 'dada', name: 'Dada', category: 'Art', source: 'shipped', version: 1, user_defined: false,
  display: { icon: '🎭', color: '#e11d48', order: 10 },
}
const dadaText = JSON.stringify({
  id: 'dada', pipeline: 'text_transformation', name: { de: 'Dada', en: 'Dada' }, description: { de: 'D', en: 'D' },
  category: { de: 'K', en: 'A' }, context: { de: 'Zufall.', en: 'Chance.' }, display: { icon: '🎭', color: '#e11d48', order: 10 },
})

/** The server's answer to a bad colour: a 422 naming the field (as the real validation does). */
function colorProblem(body: unknown) {
  if (/^#[0-9a-f]{6}$/i.test((body as { display: { color: string } }).display.color)) return null
  return { status: 422, json: { error: { code: 'config_invalid', message: 'The config has 1 problem(s): display.color.',
    details: { problems: [{ field: 'display.color', problem: "String should match pattern '^#[0-9a-fA-F]{6}$'" }] } } } }
}

beforeEach(async () => {
  api = await startFakeApi({
    'GET /api/configs/editor': () => ({
      json: { configs: [shipped], pipelines: [{ name: 'text_transformation', type: 'prompt_interception', iterations: null }] },
    }),
    'GET /api/configs/interception/dada/source': () => ({ json: { id: 'dada', source: 'shipped', version: 1, text: dadaText } }),
    'POST /api/configs/validate': (req) => colorProblem(req.body) ?? { json: { valid: true } },
    'POST /api/configs/interception': (req) => colorProblem(req.body) ?? { status: 201, json: { id: 'dada_copy', version: 1 } },
    'PUT /api/configs/interception/dada_copy': () => ({ json: { id: 'dada_copy', version: 2 } }),
    'GET /api/configs/interception/dada_copy/versions': () => ({
      json: { versions: [{ version: 1, action: 'create', author: 'ms_k', created_at: '2026-01-01T10:00:00Z', diff: '+x', deleted: false }] },
    }),
    'POST /api/configs/dry-run': (req) => {
      const body = req.body as { input_text: string; config: { context: { en: string } } }
      return { json: { status: 'succeeded', level: 'kids', iterations: [], result: 'CAT! roof!',
        parts: { task_instruction: 'Transform the INPUT.', context: body.config.context.en, input: body.input_text } } }
    },
  })
  setApiBase(api.url)
})

afterEach(async () => {
  setApiBase(null)
  await api.close()
})

async function duplicateDada() {
  const { wrapper } = mountApp(ConfigEditorView, { lang: 'en' })
  await until(() => wrapper.find('[data-testid="config-duplicate-dada"]').exists(), 3000, 'the config list')
  expect(wrapper.find('[data-testid="config-edit-dada"]').exists()).toBe(false) // shipped: read-only
  await wrapper.find('[data-testid="config-duplicate-dada"]').trigger('click')
  await until(() => wrapper.find('[data-testid="cfg-id"]').exists(), 3000, 'the form')
  return wrapper
}

describe('ConfigEditorView', () => {
  it('shows the server’s field problem inline, then saves the fixed config', async () => {
    const wrapper = await duplicateDada()
    expect((wrapper.find('[data-testid="cfg-id"]').element as HTMLInputElement).value).toBe('dada_copy')
    await wrapper.find('[data-testid="cfg-color"]').setValue('green')
    await wrapper.find('[data-testid="config-save"]').trigger('click')
    await until(() => wrapper.find('[data-testid="error-display.color"]').exists(), 3000, 'the inline error')
    expect(wrapper.find('[data-testid="error-display.color"]').text()).toContain('pattern')
    expect(wrapper.find('[data-testid="config-saved"]').exists()).toBe(false)

    await wrapper.find('[data-testid="cfg-color"]').setValue('#00aa00')
    await wrapper.find('[data-testid="config-save"]').trigger('click')
    await until(() => wrapper.find('[data-testid="config-saved"]').exists(), 3000, 'the saved note')
    expect(wrapper.find('[data-testid="error-display.color"]').exists()).toBe(false)
    const saved = api.requests.filter((r) => r.method === 'POST' && r.path === '/api/configs/interception').at(-1)
    expect(saved?.body).toMatchObject({ id: 'dada_copy', display: { color: '#00aa00' }, context: { en: 'Chance.' } })
    await until(() => wrapper.find('[data-testid="version-1"]').exists(), 3000, 'the versions')
  })

  it('saves an attitude that takes a picture, and leaves the flag out when it is unticked', async () => {
    const wrapper = await duplicateDada()
    const box = wrapper.find('[data-testid="cfg-takes-image"]')
    expect((box.element as HTMLInputElement).checked).toBe(false)
    await box.setValue(true)
    await wrapper.find('[data-testid="config-save"]').trigger('click')
    await until(() => wrapper.find('[data-testid="config-saved"]').exists(), 3000, 'the saved note')
    const created = api.requests.filter((r) => r.method === 'POST' && r.path === '/api/configs/interception').at(-1)
    expect(created?.body).toMatchObject({ id: 'dada_copy', takes_image: true })

    await wrapper.find('[data-testid="cfg-takes-image"]').setValue(false)
    await wrapper.find('[data-testid="config-save"]').trigger('click')
    const update = () => api.requests.find((r) => r.method === 'PUT' && r.path === '/api/configs/interception/dada_copy')
    await until(() => update() !== undefined, 3000, 'the second save')
    expect(update()?.body).not.toHaveProperty('takes_image')
    expect(update()?.body).toMatchObject({ id: 'dada_copy', context: { en: 'Chance.' } })
  })

  it('checks the draft while the teacher types, without saving', async () => {
    const wrapper = await duplicateDada()
    await wrapper.find('[data-testid="cfg-color"]').setValue('blue')
    await until(() => wrapper.find('[data-testid="error-display.color"]').exists(), 3000, 'the live check')
    await wrapper.find('[data-testid="cfg-color"]').setValue('#0000ff')
    await until(() => !wrapper.find('[data-testid="error-display.color"]').exists(), 3000, 'the problem to go')
    expect(api.requests.some((r) => r.path === '/api/configs/interception')).toBe(false)
  })

  it('dry-runs the unsaved draft and shows the three parts and the result', async () => {
    const wrapper = await duplicateDada()
    await wrapper.find('[data-testid="cfg-context-en"]').setValue('Everything is a meadow.')
    await wrapper.find('[data-testid="dry-run-idea"]').setValue('a cat on a roof')
    await wrapper.find('[data-testid="dry-run-button"]').trigger('click')
    await until(() => wrapper.find('[data-testid="dry-run-output"]').exists(), 3000, 'the dry run')
    expect(wrapper.find('[data-testid="dry-run-context"]').text()).toBe('Everything is a meadow.')
    expect(wrapper.find('[data-testid="dry-run-input"]').text()).toBe('a cat on a roof')
    expect(wrapper.find('[data-testid="dry-run-output"]').text()).toBe('CAT! roof!')
    expect(api.requests.some((r) => r.path === '/api/configs/interception')).toBe(false) // nothing saved
  })
})
