import { afterEach, describe, expect, it } from 'vitest'
import { setApiBase } from '../services/api'
import { startFakeApi, until, type FakeApi } from '../test/fakeApi'
import { mountApp } from '../test/mountApp'
import App from '../App.vue'

let api: FakeApi | null = null
afterEach(async () => {
  setApiBase(null)
  await api?.close()
  api = null
})

const events = [
  { sequence: 1, timestamp: '2025-01-01T10:00:00Z', stage: 'stage1', item_type: 'user_input_text', content: 'a red house' },
  { sequence: 2, timestamp: '2025-01-01T10:00:01Z', stage: 'stage2', stage_iteration: 2, item_type: 'interception_iteration', content: 'une maison' },
  { sequence: 3, timestamp: '2025-01-01T10:00:02Z', stage: 'stage4', item_type: 'output_image', file: '07_output_image.png' },
  { sequence: 4, timestamp: '2025-01-01T10:00:03Z', stage: null, item_type: 'something_new', content: { detail: 1 } },
]

async function open(path: string) {
  const mounted = mountApp(App, { lang: 'en' })
  await mounted.router.push(path)
  return mounted.wrapper
}

describe('RunJourneyView', () => {
  it('shows the run’s events as a timeline in order', async () => {
    api = await startFakeApi({ 'GET /api/pipeline/run-7/journey': () => ({ json: { metadata: { status: 'succeeded' }, events } }) })
    setApiBase(api.url)
    const wrapper = await open('/runs/run-7')
    await until(() => wrapper.find('[data-testid="journey-timeline"]').exists(), 3000, 'the timeline')
    const items = wrapper.findAll('[data-testid="journey-timeline"] li')
    expect(items.map((i) => i.attributes('data-item-type'))).toEqual(['user_input_text', 'interception_iteration', 'output_image', 'something_new'])
    expect(items[0].text()).toContain('Your idea')
    expect(items[0].text()).toContain('a red house')
    expect(items[1].text()).toContain('Round 2')
    expect(items[2].text()).toContain('07_output_image.png')
    expect(items[3].text()).toContain('something_new')
    expect(wrapper.find('[data-testid="journey-status"]').text()).toContain('done')
  })

  it('loads the student journey, not the research record, and marks withheld texts', async () => {
    const withheld = [{ sequence: 1, timestamp: '2025-01-01T10:00:00Z', stage: 'stage2', item_type: 'interception_iteration',
      content: null, file: null, metadata: { withheld: true, checkpoint: 'interception' } },
    { sequence: 2, timestamp: '2025-01-01T10:00:01Z', stage: 'stage4', item_type: 'output_code', media_type: 'code',
      content: null, file: null, metadata: { withheld: true, output_config: 'p5js_code' } },
    { sequence: 3, timestamp: '2025-01-01T10:00:02Z', stage: 'stage4', item_type: 'output_image', media_type: 'image',
      content: null, file: '07_output_image.png', metadata: { index: 1, output_config: 'sketch_offline' } }]
    api = await startFakeApi({
      'GET /api/pipeline/run-8/journey': () => ({ json: { metadata: { status: 'blocked' }, events: withheld } }),
      'GET /api/runs/run-8': () => ({ json: { metadata: { status: 'blocked' }, events: [{ ...withheld[0], content: 'SECRET' }] } }),
    })
    setApiBase(api.url)
    const wrapper = await open('/runs/run-8')
    await until(() => wrapper.find('[data-testid="journey-timeline"]').exists(), 3000, 'the timeline')
    expect(wrapper.find('[data-testid="journey-withheld"]').text()).toContain('did not pass the safety check')
    expect(wrapper.text()).not.toContain('SECRET')
    // the picture that was made is shown; the withheld sketch is not
    expect(wrapper.find('[data-testid="output-media-1"]').attributes('src')).toBe(`${api!.url}/api/media/image/run-8/1`)
    expect(wrapper.find('[data-testid="sketch-frame"]').exists()).toBe(false)
  })

  it('says so kindly when the run does not exist', async () => {
    api = await startFakeApi({})
    setApiBase(api.url)
    const wrapper = await open('/runs/nope')
    await until(() => wrapper.find('[data-testid="error-card"]').exists(), 3000, 'the error card')
    expect(wrapper.find('[data-testid="error-card"]').text()).toContain('does not exist')
    expect(wrapper.find('[data-testid="retry-button"]').exists()).toBe(false)
  })

  it('lists the caller’s runs from the server, linking to their journeys', async () => {
    api = await startFakeApi({
      'GET /api/runs/mine': () => ({ json: { total: 1, limit: 50, offset: 0, runs: [
        { run_id: 'run-7', created_at: '2025-01-01T10:00:00Z', updated_at: '2025-01-01T10:01:00Z', status: 'blocked',
          schema: 'dada', input_preview: 'a red house', media_types: [] },
      ] } }),
    })
    setApiBase(api.url)
    const wrapper = await open('/runs')
    await until(() => wrapper.find('[data-testid="run-list"]').exists(), 3000, 'the run list')
    expect(wrapper.find('[data-testid="run-link-run-7"]').attributes('href')).toBe('/runs/run-7')
    expect(wrapper.find('[data-testid="run-link-run-7"]').text()).toBe('a red house')
    expect(wrapper.find('[data-testid="run-list"]').text()).toContain('stopped (safety)')
  })

  it('says when there are no runs yet, and shows a server error with a retry', async () => {
    let fail = true
    api = await startFakeApi({
      'GET /api/runs/mine': () => fail
        ? { status: 401, json: { error: { code: 'join_required', message: 'Join a workshop first.', details: {} } } }
        : { json: { total: 0, limit: 50, offset: 0, runs: [] } },
    })
    setApiBase(api.url)
    const wrapper = await open('/runs')
    await until(() => wrapper.find('[data-testid="error-card"]').exists(), 3000, 'the error card')
    expect(wrapper.find('[data-testid="error-card"]').text()).toContain('Join a workshop first.')
    fail = false
    await wrapper.find('[data-testid="retry-button"]').trigger('click')
    await until(() => wrapper.find('[data-testid="run-list-empty"]').exists(), 3000, 'the empty list')
    expect(wrapper.find('[data-testid="run-list-empty"]').text()).toBe('No runs yet.')
  })
})
