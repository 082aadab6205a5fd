/** Joining with a code: the server's friendly message for an unknown code, the student page after a join. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { setApiBase } from '../services/api'
import { useWorkshopStore } from '../stores/workshop'
import { startFakeApi, until, type FakeApi } from '../test/fakeApi'
import { mountApp } from '../test/mountApp'
import JoinView from './JoinView.vue'

let api: FakeApi
let currentId = 'default'

beforeEach(async () => {
  api = await startFakeApi({
    'GET /api/sessions/current': () => ({ json: { student: null, session: { id: currentId, title: 'Klasse 4a', safety_level: 'kids', lang: 'de', closed: false } } }),
    'POST /api/sessions/leave': () => ({ json: { left: true } }),
    'POST /api/sessions/join': (req) => {
      const { code } = req.body as { code: string }
      if (code !== 'XH49EX') {
        return { status: 404, json: { error: { code: 'session_code_unknown', message: 'There is no workshop with this code.', details: {} } } }
      }
      return { json: { student: 'st-1', session: { id: 'ws-1', title: 'Klasse 4a', safety_level: 'kids', lang: 'en', closed: false } } }
    },
  })
  setApiBase(api.url)
  currentId = 'default'
})

afterEach(async () => {
  setApiBase(null)
  await api.close()
})

describe('JoinView', () => {
  it('shows the server’s message for an unknown code, then joins with the right one', async () => {
    const { wrapper, router } = mountApp(JoinView, { lang: 'en', attachTo: document.body })
    await router.push('/join')
    await wrapper.find('[data-testid="join-code"]').setValue('NOPE')
    await wrapper.find('[data-testid="join-form"]').trigger('submit')
    await until(() => wrapper.find('[data-testid="join-error"]').exists(), 3000, 'the error')
    expect(wrapper.find('[data-testid="join-error"]').text()).toBe('There is no workshop with this code.')

    await wrapper.find('[data-testid="join-code"]').setValue(' XH49EX ')
    await wrapper.find('[data-testid="join-form"]').trigger('submit')
    await until(() => useWorkshopStore().safetyLevel === 'kids', 3000, 'the join')
    await until(() => router.currentRoute.value.path === '/', 3000, 'the student page')
    expect(api.requests.filter((r) => r.method === 'POST').at(-1)?.body).toMatchObject({ code: 'XH49EX' })
    expect(wrapper.find('[data-testid="joined"]').exists()).toBe(false) // the default session: nothing to leave
    wrapper.unmount()
  })

  it('lets a student on a shared computer leave the workshop they joined', async () => {
    currentId = 'ws-1'
    const { wrapper } = mountApp(JoinView, { lang: 'en' })
    await until(() => wrapper.find('[data-testid="joined"]').exists(), 3000, 'the joined workshop')
    expect(wrapper.find('[data-testid="joined"]').text()).toContain('Klasse 4a')
    await wrapper.find('[data-testid="leave-button"]').trigger('click')
    await until(() => !wrapper.find('[data-testid="joined"]').exists(), 3000, 'leaving')
    expect(api.requests.some((r) => r.method === 'POST' && r.path === '/api/sessions/leave')).toBe(true)
  })
})
