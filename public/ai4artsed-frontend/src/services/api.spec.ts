import { afterEach, describe, expect, it } from 'vitest'
import { cancelRun, fetchStatus, setApiBase } from './api'
import { startFakeApi, type FakeApi } from '../test/fakeApi'

let api: FakeApi | null = null
afterEach(async () => {
  setApiBase(null)
  document.cookie = 'csrf_token=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/'
  await api?.close()
  api = null
})

describe('the API client', () => {
  it('echoes the csrf_token cookie on writes and not on reads', async () => {
    api = await startFakeApi({
      'POST /api/pipeline/run-1/cancel': () => ({ json: { run_id: 'run-1', status: 'cancelled' } }),
      'GET /api/pipeline/run-1/status': () => ({ json: { run_id: 'run-1', status: 'cancelled' } }),
    })
    setApiBase(api.url)
    document.cookie = 'csrf_token=tok%2Fen-42; path=/'
    await cancelRun('run-1')
    await fetchStatus('/api/pipeline/run-1/status')
    const [write, read] = api.requests
    expect(write.headers['x-csrf-token']).toBe('tok/en-42')
    expect(read.headers['x-csrf-token']).toBeUndefined()
  })

  it('sends no CSRF header while the server has set no token', async () => {
    api = await startFakeApi({ 'POST /api/pipeline/run-2/cancel': () => ({ json: { run_id: 'run-2' } }) })
    setApiBase(api.url)
    await cancelRun('run-2')
    expect(api.requests[0].headers['x-csrf-token']).toBeUndefined()
  })
})
