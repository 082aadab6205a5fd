import { afterEach, describe, expect, it } from 'vitest'
import { setApiBase } from '../services/api'
import { startFakeApi, until, type FakeApi } from '../test/fakeApi'
import { mountApp } from '../test/mountApp'
import DemoModelNotice from './DemoModelNotice.vue'

let api: FakeApi | null = null

afterEach(async () => {
  setApiBase(null)
  await api?.close()
  api = null
})

async function mountWith(roles: string[] | null, lang: 'de' | 'en', audience?: 'student' | 'teacher') {
  api = await startFakeApi({
    'GET /api/health': () => (roles === null ? { status: 500, json: { error: { code: 'internal', message: 'x', details: {} } } }
      : { json: { status: 'ok', demo_model: { roles } } }),
  })
  setApiBase(api.url)
  const { wrapper } = mountApp(DemoModelNotice, { lang, props: audience ? { audience } : {} })
  await until(() => (wrapper.emitted('checked') ?? []).length > 0, 3000, 'the health answer')
  return wrapper
}

describe('DemoModelNotice', () => {
  it('tells the student in their language when a role runs on the demo model', async () => {
    const wrapper = await mountWith(['TRANSLATION_MODEL'], 'de')
    expect(wrapper.text()).toContain('Demo-Modell')
  })

  it('tells the teacher which roles run on it and how to get a better model, in both languages', async () => {
    for (const [lang, word] of [['de', 'Demo-Modell'], ['en', 'Demo model']] as const) {
      const wrapper = await mountWith(['TRANSLATION_MODEL', 'STAGE2_INTERCEPTION_MODEL'], lang, 'teacher')
      expect(wrapper.text()).toContain(word)
      expect(wrapper.text()).toContain('TRANSLATION_MODEL, STAGE2_INTERCEPTION_MODEL')
      expect(wrapper.text()).toContain('scripts/get_model.sh')
      await api!.close()
      api = null
    }
  })

  it('stays quiet with a real model and when the server cannot say', async () => {
    for (const roles of [[], null]) {
      const wrapper = await mountWith(roles, 'en')
      expect(wrapper.find('[data-testid="demo-model-notice"]').exists()).toBe(false)
      await api!.close()
      api = null
    }
  })
})
