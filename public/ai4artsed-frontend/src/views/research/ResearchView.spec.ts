/**
 * The research view against a loopback fake API: the table and totals come from the server, a filter
 * reaches the list, stats and export requests, and the export links carry the filters and format.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { setApiBase } from '../../services/api'
import { startFakeApi, until, type FakeApi } from '../../test/fakeApi'
import { mountApp } from '../../test/mountApp'
import ResearchView from './ResearchView.vue'

let api: FakeApi
const row = (id: string, status: string) => ({
  run_id: id, created_at: '2026-11-28T10:00:00+00:00', status, schema: 'dada', safety_level: 'kids', session: 'S1',
  media_types: ['image'], input_preview: `idea ${id}`, block_category: status === 'blocked' ? 'p86a' : null, released: 0,
})
const stats = {
  total: 2, by_status: { blocked: 1, succeeded: 1 }, by_schema: { dada: 2 }, by_safety_level: { kids: 2 },
  by_day: { '2026-11-28': 2 }, by_block_category: { p86a: 1 }, block_rate_by_category: { p86a: 0.5 },
  stage_ms: { stage1: { n: 2, mean: 800, p95: 900 } }, queue_wait_ms: { n: 0, mean: null, p95: null },
}

beforeEach(async () => {
  api = await startFakeApi({
    'GET /api/runs/list': (req) => {
      const runs = [row('a1', 'succeeded'), row('b2', 'blocked')].filter((r) => !req.query.get('status') || r.status === req.query.get('status'))
      return { json: { runs, total: runs.length, limit: 25, offset: 0 } }
    },
    'GET /api/runs/stats': () => ({ json: stats }),
  })
  setApiBase(api.url)
})

afterEach(async () => {
  setApiBase(null)
  await api.close()
})

describe('ResearchView', () => {
  it('lists the runs, offers the reported values as filters and sends the chosen filter everywhere', async () => {
    const { wrapper } = mountApp(ResearchView, { attachTo: document.body })
    await until(() => wrapper.findAll('[data-testid="research-row"]').length === 2)
    expect(wrapper.get('[data-testid="research-total"]').text()).toContain('2')
    const options = wrapper.findAll('[data-testid="filter-status"] option').map((o) => o.attributes('value'))
    expect(options).toEqual(['', 'blocked', 'succeeded'])
    const first = wrapper.get('[data-testid="research-row"]').text() // values in words, not the API's codes
    expect(first).toContain('done')
    expect(first).toContain('children')
    expect(first).not.toContain('succeeded')

    await wrapper.get('[data-testid="filter-status"]').setValue('blocked')
    await wrapper.get('[data-testid="research-filters"]').trigger('submit')
    await until(() => wrapper.findAll('[data-testid="research-row"]').length === 1)
    expect(wrapper.get('[data-testid="research-row"]').text()).toContain('§86a symbols')
    const asked = api.requests.filter((r) => r.path === '/api/runs/stats').at(-1)!
    expect(asked.query.get('status')).toBe('blocked')
    const csv = wrapper.get('[data-testid="export-csv"]').attributes('href')!
    expect(new URL(csv).searchParams.get('status')).toBe('blocked')
    expect(new URL(csv).searchParams.get('format')).toBe('csv')
    wrapper.unmount()
  })

  it('shows the server error with a retry', async () => {
    await api.close()
    api = await startFakeApi({
      'GET /api/runs/list': () => ({ status: 401, json: { error: { code: 'login_required', message: 'Log in first.', details: {} } } }),
      'GET /api/runs/stats': () => ({ json: stats }),
    })
    setApiBase(api.url)
    const { wrapper } = mountApp(ResearchView)
    await until(() => wrapper.text().includes('Log in first.'))
  })
})
