import { EventSource as NodeEventSource } from 'eventsource'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { effectScope, ref, watch } from 'vue'
import { setApiBase } from '../services/api'
import type { RunStatus } from '../services/types'
import { startFakeApi, until, writeEvent, type FakeApi, type FakeHandler } from '../test/fakeApi'
import { snapshot } from '../test/fixtures'
import { useRun } from './useRun'

const STATUS = 'GET /api/pipeline/run-1/status'
const EVENTS = 'GET /api/pipeline/run-1/events'

let api: FakeApi | null = null
const globals = globalThis as { EventSource?: unknown }
const jsdomEventSource = globals.EventSource

async function serve(routes: Record<string, FakeHandler>): Promise<FakeApi> {
  api = await startFakeApi(routes)
  setApiBase(api.url)
  return api
}

/** Run useRun inside an effect scope, as a component would, recording every snapshot. */
function follow(runId = 'run-1') {
  const scope = effectScope()
  const id = ref<string | null>(runId)
  const seen: RunStatus[] = []
  const run = scope.run(() => {
    const r = useRun(id, { pollIntervalMs: 20 })
    watch(r.status, (s) => s && seen.push(s), { flush: 'sync' })
    return r
  })!
  return { run, id, seen, scope }
}

const countOf = (server: FakeApi, path: string) => server.requests.filter((r) => `${r.method} ${r.path}` === path).length
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

beforeEach(() => {
  globals.EventSource = jsdomEventSource // jsdom has none: the polling path
})
afterEach(async () => {
  globals.EventSource = jsdomEventSource
  setApiBase(null)
  await api?.close()
  api = null
})

describe('useRun', () => {
  it('polls the status every interval and stops for good at a terminal status', async () => {
    const states = ['queued', 'running', 'running', 'succeeded'] as const
    let calls = 0
    const server = await serve({ [STATUS]: () => ({ json: snapshot({ status: states[Math.min(calls++, 3)] }) }) })
    const { run, seen, scope } = follow()
    await until(() => run.status.value?.status === 'succeeded', 3000, 'succeeded')
    expect(seen.map((s) => s.status)).toEqual(['queued', 'running', 'running', 'succeeded'])
    const requests = countOf(server, STATUS)
    await pause(150)
    expect(countOf(server, STATUS)).toBe(requests)
    expect(run.connection.value).toBe('idle')
    scope.stop()
  })

  it('renders every snapshot from the event stream and closes it at `end`', async () => {
    globals.EventSource = NodeEventSource
    const iteration = { index: 1, language: 'fr', text: 'une maison' }
    const server = await serve({
      [EVENTS]: (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' })
        writeEvent(res, 1, 'pipeline_start', { item: {}, status: snapshot({ step: 'safety' }) })
        writeEvent(res, 2, 'interception_iteration', {
          item: {}, status: snapshot({ stage: 'stage2', step: 'interception', interception: {
            task_instruction: 't', context: 'c', input: 'i', iterations: [iteration], result: null } }),
        })
        writeEvent(res, 3, 'end', {})
        res.end()
      },
      [STATUS]: () => ({ json: snapshot({ status: 'succeeded', step: 'interception' }) }),
    })
    const { run, seen, scope } = follow()
    await until(() => run.status.value?.status === 'succeeded', 3000, 'succeeded')
    expect(seen[0].step).toBe('safety')
    expect(seen[1].interception?.iterations).toEqual([iteration])
    await pause(150)
    // One stream, one authoritative status read after `end`, then nothing more.
    expect(countOf(server, EVENTS)).toBe(1)
    expect(countOf(server, STATUS)).toBe(1)
    expect(run.connection.value).toBe('idle')
    scope.stop()
  })

  it('falls back to polling when the event stream fails', async () => {
    globals.EventSource = NodeEventSource
    let calls = 0
    const server = await serve({
      [EVENTS]: () => ({ status: 503, json: { error: { code: 'unavailable', message: 'no streams', details: {} } } }),
      [STATUS]: () => ({ json: snapshot({ status: calls++ < 2 ? 'running' : 'failed', error: { code: 'x', message: 'boom' } }) }),
    })
    const { run, scope } = follow()
    await until(() => run.status.value?.status === 'failed', 3000, 'failed')
    expect(countOf(server, STATUS)).toBeGreaterThanOrEqual(3)
    expect(run.connection.value).toBe('idle')
    scope.stop()
  })

  it('stops polling when the component goes away', async () => {
    const server = await serve({ [STATUS]: () => ({ json: snapshot({ status: 'running' }) }) })
    const { run, scope } = follow()
    await until(() => run.status.value !== null, 3000, 'first snapshot')
    scope.stop()
    await pause(60)
    const requests = countOf(server, STATUS)
    await pause(150)
    expect(countOf(server, STATUS)).toBe(requests)
  })

  it('stops at an unknown run instead of polling forever', async () => {
    const server = await serve({})
    const { run, scope } = follow('run-1')
    await until(() => run.error.value !== null, 3000, 'an error')
    expect(run.error.value?.status).toBe(404)
    await pause(100)
    expect(countOf(server, STATUS)).toBe(1)
    scope.stop()
  })

  it('follows the same run again when a new phase starts', async () => {
    let phase = 'stage2'
    await serve({ [STATUS]: () => ({ json: snapshot({ status: 'succeeded', phase }) }) })
    const { run, scope } = follow()
    await until(() => run.status.value?.phase === 'stage2', 3000, 'stage2')
    phase = 'optimize'
    run.follow()
    await until(() => run.status.value?.phase === 'optimize', 3000, 'optimize')
    scope.stop()
  })
})
