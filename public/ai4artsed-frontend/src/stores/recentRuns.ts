/**
 * The caller's own runs, as the server lists them (`GET /api/runs/mine`): a student sees the runs of
 * their workshop pass, on a single-person server the runs of the default session.
 *
 * Nothing is kept in localStorage: on a shared school computer the next student must not see the
 * previous student's ideas. A run started a moment ago is shown at once (`remember`) until the next
 * `refresh` brings the server's list.
 */
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { ApiError, listMyRuns } from '../services/api'

export interface RecentRun {
  id: string
  createdAt: string
  schema: string
  idea: string
  status?: string
}

export const useRecentRunsStore = defineStore('recentRuns', () => {
  const runs = ref<RecentRun[]>([])
  const loading = ref(false)
  const error = ref<string | null>(null)

  /** Show a just-started run at the top of the list (newest first). */
  function remember(run: RecentRun): void {
    runs.value = [run, ...runs.value.filter((r) => r.id !== run.id)]
  }

  /** Load the list from the server (the source of truth). */
  async function refresh(): Promise<void> {
    loading.value = true
    error.value = null
    try {
      const page = await listMyRuns()
      runs.value = page.runs.map((r) => ({
        id: r.run_id,
        createdAt: r.created_at,
        schema: r.schema ?? '',
        idea: r.input_preview,
        status: r.status,
      }))
    } catch (cause) {
      error.value = cause instanceof ApiError ? cause.message : String(cause)
    } finally {
      loading.value = false
    }
  }

  return { runs, loading, error, remember, refresh }
})
