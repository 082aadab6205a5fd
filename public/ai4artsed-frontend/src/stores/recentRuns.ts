/** This browser's recent runs (no accounts: the list lives in localStorage only). */
import { defineStore } from 'pinia'
import { ref } from 'vue'

export interface RecentRun {
  id: string
  createdAt: string
  schema: string
  idea: string
}

const STORAGE_KEY = 'ai4artsed.recentRuns'
const LIMIT = 30

function load(): RecentRun[] {
  try {
    const parsed = JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? '[]')
    return Array.isArray(parsed) ? parsed.filter((r) => r && typeof r.id === 'string') : []
  } catch {
    return []
  }
}

export const useRecentRunsStore = defineStore('recentRuns', () => {
  const runs = ref<RecentRun[]>(load())

  /** Remember a run at the top of the list (newest first, at most LIMIT entries). */
  function remember(run: RecentRun): void {
    runs.value = [run, ...runs.value.filter((r) => r.id !== run.id)].slice(0, LIMIT)
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify(runs.value))
    } catch {
      // Storage full or blocked: the list is a convenience, the run itself is on the server.
    }
  }

  return { runs, remember }
})
