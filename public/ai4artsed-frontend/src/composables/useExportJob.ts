/**
 * Prepare a bulk ZIP export (with media) on the server and follow it until it can be downloaded.
 *
 * `start(filters)` asks the server to build the ZIP in the background; the job's status is then polled
 * (every second by default) until it is done or failed. Polling stops on a terminal status, on a
 * new start, and when the component goes away.
 */
import { onScopeDispose, shallowRef } from 'vue'
import type { ApiError } from '../services/api'
import { exportJobStatus, startExportJob, type ExportJob, type RunFilters } from '../services/researchApi'

export function useExportJob(pollIntervalMs = 1000) {
  const job = shallowRef<ExportJob | null>(null)
  const error = shallowRef<ApiError | null>(null)
  let timer: ReturnType<typeof setTimeout> | null = null
  let generation = 0 // answers of an older job are ignored

  function stop(): void {
    if (timer) clearTimeout(timer)
    timer = null
    generation += 1
  }

  function follow(current: ExportJob, mine: number): void {
    job.value = current
    if (current.status === 'done' || current.status === 'failed') return
    timer = setTimeout(async () => {
      try {
        const next = await exportJobStatus(current)
        if (mine === generation) follow(next, mine)
      } catch (e) {
        if (mine === generation) error.value = e as ApiError
      }
    }, pollIntervalMs)
  }

  /** Start preparing the ZIP of the runs matching `filters`. */
  async function start(filters: RunFilters): Promise<void> {
    stop()
    const mine = generation
    job.value = null
    error.value = null
    try {
      const started = await startExportJob(filters)
      if (mine === generation) follow(started, mine)
    } catch (e) {
      if (mine === generation) error.value = e as ApiError
    }
  }

  /** Forget the job (the filters changed: its link would no longer match them). */
  function reset(): void {
    stop()
    job.value = null
    error.value = null
  }

  onScopeDispose(stop)
  return { job, error, start, reset }
}
