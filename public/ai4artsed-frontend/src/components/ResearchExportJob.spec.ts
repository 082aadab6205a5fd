/**
 * "Prepare ZIP with media" against a loopback fake API: the job is started with the filters, its progress
 * is shown while the server builds it, and the download link appears when it is done; a full server says so.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { setApiBase } from '../services/api'
import { startFakeApi, until, type FakeApi } from '../test/fakeApi'
import { mountApp } from '../test/mountApp'
import ResearchExportJob from './ResearchExportJob.vue'

let api: FakeApi
const job = (status: string, done: number) => ({
  id: 'j1', status, runs_done: done, runs_total: 3, runs_matching: 3, truncated: false, bytes: done * 1_500_000,
  missing: [], error: null, status_url: '/api/exports/j1', download_url: status === 'done' ? '/api/exports/j1/download' : null,
})

afterEach(async () => {
  setApiBase(null)
  await api.close()
})

describe('ResearchExportJob', () => {
  it('starts a job with the filters, shows its progress and then offers the download', async () => {
    let polls = 0
    api = await startFakeApi({
      'POST /api/exports': () => ({ status: 202, json: job('queued', 0) }),
      'GET /api/exports/j1': () => {
        polls += 1
        return { json: polls < 3 ? job('running', polls) : job('done', 3) }
      },
    })
    setApiBase(api.url)
    const { wrapper } = mountApp(ResearchExportJob, { props: { filters: { status: 'blocked', q: '' } } })
    await wrapper.get('[data-testid="export-job-start"]').trigger('click')
    await until(() => wrapper.find('[data-testid="export-job-progress"]').exists())
    expect(api.requests.find((r) => r.method === 'POST')!.body).toEqual({ status: 'blocked' })
    await until(() => wrapper.find('[data-testid="export-job-download"]').exists(), 10_000)
    const link = wrapper.get('[data-testid="export-job-download"]')
    expect(new URL(link.attributes('href')!).pathname).toBe('/api/exports/j1/download')
    expect(link.text()).toContain('3 runs')
    expect(link.text()).toContain('4.5 MB')
    expect(wrapper.find('[data-testid="export-job-progress"]').exists()).toBe(false)
    const asked = polls
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(polls).toBe(asked) // a finished job is not polled any more
    wrapper.unmount()
  })

  it('says when the server is busy and lets the user try again', async () => {
    api = await startFakeApi({
      'POST /api/exports': () => ({ status: 429, json: { error: {
        code: 'too_many_exports', message: '2 exports are being prepared already.', details: { limit: 2 } } } }),
    })
    setApiBase(api.url)
    const { wrapper } = mountApp(ResearchExportJob, { props: { filters: {} } })
    await wrapper.get('[data-testid="export-job-start"]').trigger('click')
    await until(() => wrapper.text().includes('2 exports are being prepared already.'))
    expect(wrapper.find('[data-testid="retry-button"]').exists()).toBe(true)
    wrapper.unmount()
  })
})
