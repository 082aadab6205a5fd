/** A config's versions: who and when, the diff, and restore (which the server answers with a new version). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { setApiBase } from '../services/api'
import type { ConfigVersion } from '../services/teacherTypes'
import { startFakeApi, until, type FakeApi } from '../test/fakeApi'
import { mountApp } from '../test/mountApp'
import ConfigEditorVersions from './ConfigEditorVersions.vue'

let api: FakeApi
let versions: ConfigVersion[]

beforeEach(async () => {
  versions = [
    { version: 2, action: 'save', author: 'ms_k', created_at: '2026-01-02T10:00:00Z', diff: '-meadow\n+desert', deleted: false },
    { version: 1, action: 'create', author: 'ms_k', created_at: '2026-01-01T10:00:00Z', diff: '+meadow', deleted: false },
  ]
  api = await startFakeApi({
    'GET /api/configs/interception/meadow/versions': () => ({ json: { versions } }),
    'POST /api/configs/interception/meadow/restore': (req) => {
      const restored = (req.body as { version: number }).version
      versions = [{ version: 3, action: `restore:${restored}`, author: 'ms_k', created_at: '2026-01-03T10:00:00Z', diff: '-desert\n+meadow', deleted: false }, ...versions]
      return { json: { id: 'meadow', version: 3, restored } }
    },
  })
  setApiBase(api.url)
})

afterEach(async () => {
  setApiBase(null)
  await api.close()
})

describe('ConfigEditorVersions', () => {
  it('lists versions with author and diff, and restores one as a new version', async () => {
    const { wrapper } = mountApp(ConfigEditorVersions, { props: { configId: 'meadow', refreshKey: 0 }, lang: 'en' })
    await until(() => wrapper.find('[data-testid="version-2"]').exists(), 3000, 'the versions')
    expect(wrapper.find('[data-testid="version-2"]').text()).toContain('ms_k')
    expect(wrapper.find('[data-testid="version-2"] pre').text()).toContain('+desert')
    await wrapper.find('[data-testid="restore-1"]').trigger('click')
    await until(() => wrapper.emitted('restored') !== undefined, 3000, 'the restore')
    expect(wrapper.emitted('restored')?.[0]).toEqual([3])
    expect(api.requests.find((r) => r.method === 'POST')?.body).toEqual({ version: 1 })
    await until(() => wrapper.find('[data-testid="version-3"]').exists(), 3000, 'the new version')
  })
})
