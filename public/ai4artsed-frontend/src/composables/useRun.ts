/**
 * Follow one run live: server-sent events first, polling the status endpoint as the fallback.
 *
 * Every event carries the full status snapshot, so the UI renders from snapshots only and never
 * has to merge individual events. A phase (stage2, optimize, generation) ends with `event: end`;
 * the status endpoint is then read once more because it is the source of truth. When SSE is not
 * available or the stream breaks before `end`, the status is polled every second until it is
 * terminal. Starting a new phase of the same run calls `follow()` again.
 */
import { onScopeDispose, ref, shallowRef, watch, type Ref } from 'vue'
import { ApiError, eventsPath, fetchStatus, resolveUrl, statusPath } from '../services/api'
import { TERMINAL_STATES, type RunStatus } from '../services/types'

/** Event names the server uses (DESIGN §6 item taxonomy plus progress); each carries a snapshot. */
const EVENT_NAMES = [
  'message', 'status', 'progress', 'pipeline_start', 'stage_transition', 'user_input_text', 'user_edit',
  'stage1_safety_check', 'stage1_blocked', 'translation_result', 'interception_iteration',
  'interception_final', 'optimization_result', 'stage3_safety_check', 'stage3_blocked', 'output_image',
  'output_audio', 'output_music', 'output_video', 'output_code', 'output_text', 'pipeline_complete',
  'pipeline_error', 'stage2_safety_check', 'stage2_blocked', 'stage4_safety_check', 'stage4_blocked',
  'queue_update', 'output_failed', 'pipeline_cancelled', 'moderation_release', 'storyboard_brief',
  'storyboard_scene', 'storyboard_edit',
]

export type RunConnection = 'idle' | 'live' | 'polling'

export interface RunUrls {
  status_url?: string
  events_url?: string
}

export interface UseRunOptions {
  pollIntervalMs?: number
}

/** True once a run can no longer change in its current phase. */
export function isTerminal(status: RunStatus | null): boolean {
  return status !== null && TERMINAL_STATES.includes(status.status)
}

/** Subscribe to the run `runId` points at; re-follow whenever it changes or a new phase starts. */
export function useRun(runId: Ref<string | null>, options: UseRunOptions = {}) {
  const pollIntervalMs = options.pollIntervalMs ?? 1000
  const status = shallowRef<RunStatus | null>(null)
  const connection = ref<RunConnection>('idle')
  const error = shallowRef<ApiError | null>(null)
  let source: EventSource | null = null
  let timer: ReturnType<typeof setTimeout> | null = null
  // Bumped on every follow/stop so callbacks of an older subscription are ignored.
  let generation = 0
  let statusUrl = ''

  function closeTransports(): void {
    source?.close()
    source = null
    if (timer) clearTimeout(timer)
    timer = null
  }

  /** Stop following the run (the last snapshot stays visible). */
  function stop(): void {
    generation++
    closeTransports()
    connection.value = 'idle'
  }

  function accept(snapshot: RunStatus, current: number): void {
    if (current !== generation) return
    status.value = snapshot
    error.value = null
  }

  async function poll(current: number): Promise<void> {
    if (current !== generation) return
    try {
      const snapshot = await fetchStatus(statusUrl)
      accept(snapshot, current)
      if (current === generation && isTerminal(snapshot)) {
        stop()
        return
      }
    } catch (e) {
      if (current !== generation) return
      error.value = e as ApiError
      // An unknown run will never appear: stop instead of polling forever.
      if ((e as ApiError).status === 404) {
        stop()
        return
      }
    }
    if (current === generation) timer = setTimeout(() => void poll(current), pollIntervalMs)
  }

  function startPolling(current: number): void {
    closeTransports()
    connection.value = 'polling'
    void poll(current)
  }

  function startStream(current: number, eventsUrl: string): void {
    const stream = new EventSource(eventsUrl)
    source = stream
    connection.value = 'live'
    const onEvent = (event: MessageEvent) => {
      try {
        const data = JSON.parse(event.data)
        if (data?.status) accept(data.status as RunStatus, current)
      } catch {
        // A malformed message is skipped; the next snapshot or the final status read corrects it.
      }
    }
    for (const name of EVENT_NAMES) stream.addEventListener(name, onEvent as EventListener)
    stream.addEventListener('end', (event) => {
      if (current !== generation) return
      onEvent(event as MessageEvent)
      closeTransports()
      connection.value = 'polling'
      void poll(current) // one authoritative read; stops at once when terminal
    })
    stream.onerror = () => {
      // The browser would reconnect on its own; polling is simpler to reason about in a classroom.
      if (current === generation && source === stream) startPolling(current)
    }
  }

  /** (Re)start following the run, e.g. right after a POST returned 202 for a new phase. */
  function follow(urls: RunUrls = {}): void {
    const id = runId.value
    stop()
    if (!id) return
    const current = generation
    statusUrl = urls.status_url ?? statusPath(id)
    if (typeof EventSource === 'undefined') {
      startPolling(current)
      return
    }
    startStream(current, resolveUrl(urls.events_url ?? eventsPath(id)))
  }

  watch(
    runId,
    (id, previous) => {
      if (id === previous) return
      status.value = null
      follow()
    },
    { immediate: true },
  )
  onScopeDispose(stop)
  return { status, connection, error, follow, stop }
}
