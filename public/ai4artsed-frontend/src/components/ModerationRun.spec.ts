/** A blocked run in the moderation view: release needs a written reason; §86a blocks offer no release. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { setApiBase } from '../services/api'
import type { ModerationRun as Run } from '../services/teacherTypes'
import { startFakeApi, until, type FakeApi } from '../test/fakeApi'
import { mountApp } from '../test/mountApp'
import ModerationRun from './ModerationRun.vue'

let api: FakeApi

function run(overrides: Partial<Run['blocked']> = {}): Run {
  return {
    run_id: 'run-1', status: 'blocked', stage: 'stage1', schema: 'dada', input_text: 'a murder mystery',
    interception_result: null, created_at: '2026-01-01T10:00:00Z', outputs: [], release: null,
    blocked: { checkpoint: 'input', category: 'violence_graphic', level: 'kids', teacher_reason: 'matched "murder"',
      text: 'a murder mystery', releasable: true, ...overrides },
  }
}

beforeEach(async () => {
  api = await startFakeApi({ 'POST /api/moderation/runs/run-1/release': () => ({ json: { released: true, audit_id: 1 } }) })
  setApiBase(api.url)
})

afterEach(async () => {
  setApiBase(null)
  await api.close()
})

describe('ModerationRun', () => {
  it('shows the blocked text and reason, and releases only with a written reason', async () => {
    const { wrapper } = mountApp(ModerationRun, { props: { run: run() }, lang: 'en', attachTo: document.body })
    expect(wrapper.find('[data-testid="blocked-text"]').text()).toBe('a murder mystery')
    expect(wrapper.text()).toContain('matched "murder"')
    const button = wrapper.find('[data-testid="release-button"]')
    await wrapper.find('[data-testid="release-reason"]').setValue('ok')
    expect(button.attributes('disabled')).toBeDefined()
    await wrapper.find('[data-testid="release-reason"]').setValue('A detective story for our reading unit.')
    expect(button.attributes('disabled')).toBeUndefined()
    await button.trigger('click')
    await until(() => wrapper.emitted('released') !== undefined, 3000, 'the release')
    expect(api.requests.at(-1)?.body).toEqual({ reason: 'A detective story for our reading unit.' })
    wrapper.unmount()
  })

  it('offers no release for a block that may not be released', () => {
    const { wrapper } = mountApp(ModerationRun, { props: { run: run({ category: 'p86a', releasable: false }) }, lang: 'en' })
    expect(wrapper.find('[data-testid="release-button"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="not-releasable"]').text()).toContain('86a')
  })
})
