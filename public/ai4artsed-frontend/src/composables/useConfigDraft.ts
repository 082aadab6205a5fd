/**
 * The config being edited: a JSON object in the loader's shape, its field problems from the server's
 * 422 (shown inline), and the save/dry-run calls.
 */
import { computed, onUnmounted, ref, watch } from 'vue'
import type { ApiError } from '../services/api'
import { createConfig, dryRun, updateConfig, validateConfig } from '../services/teacherApi'
import type { DryRunResult, Problem } from '../services/teacherTypes'
import type { Lang } from '../services/types'

export interface Localized {
  de: string
  en: string
}

export interface ConfigDraft {
  id: string
  pipeline: string
  name: Localized
  description: Localized
  category: Localized
  context: Localized
  display: { icon: string; color: string; order?: number }
  audience: { min_age: number }
  parameters: { iterations?: number | null; [key: string]: unknown }
  takes_image?: boolean
  [key: string]: unknown
}

/** A fresh config to start from. */
export function blankDraft(): ConfigDraft {
  const empty = () => ({ de: '', en: '' })
  return {
    id: '',
    pipeline: 'text_transformation',
    name: empty(),
    description: empty(),
    category: empty(),
    context: empty(),
    display: { icon: '✨', color: '#7c3aed', order: 100 },
    audience: { min_age: 0 },
    parameters: {},
  }
}

/** Turn a saved config's text into a draft (`newId` makes it a duplicate). */
export function draftFrom(text: string, newId?: string): ConfigDraft {
  const data = { ...blankDraft(), ...JSON.parse(text) } as ConfigDraft
  data.parameters = { ...(data.parameters ?? {}) }
  data.audience = { ...data.audience, min_age: data.audience?.min_age ?? 0 }
  if (newId !== undefined) data.id = newId
  return data
}

/** Drop empty optional values so the server sees "not set" rather than "" (or an unticked box). */
function cleaned(draft: ConfigDraft): ConfigDraft {
  const parameters = Object.fromEntries(Object.entries(draft.parameters).filter(([, v]) => v !== null && v !== '' && v !== undefined))
  const { takes_image: takesImage, ...rest } = draft
  return { ...rest, parameters, ...(takesImage ? { takes_image: true } : {}) }
}

const LIVE_CHECK_MS = 800

export function useConfigDraft() {
  const draft = ref<ConfigDraft>(blankDraft())
  const existing = ref(false)
  const problems = ref<Problem[]>([])
  const error = ref<string | null>(null)
  const busy = ref(false)
  const dry = ref<DryRunResult | null>(null)
  let timer: ReturnType<typeof setTimeout> | undefined
  let checks = 0
  let loaded = false

  /** The problem for a field path; a missing parent object counts for its children. */
  const problemFor = computed(() => (path: string): string | null => {
    const hit = problems.value.find((p) => p.field === path || path.startsWith(`${p.field}.`))
    return hit ? hit.problem : null
  })

  function load(next: ConfigDraft, isExisting: boolean): void {
    loaded = true // a freshly loaded draft is not checked until the teacher changes it
    draft.value = next
    existing.value = isExisting
    problems.value = []
    error.value = null
    dry.value = null
  }

  async function guarded<T>(call: () => Promise<T>): Promise<T | null> {
    busy.value = true
    error.value = null
    try {
      const result = await call()
      problems.value = []
      return result
    } catch (e) {
      const err = e as ApiError
      problems.value = ((err.details as { problems?: Problem[] } | null)?.problems ?? []) as Problem[]
      error.value = err.message
      return null
    } finally {
      busy.value = false
    }
  }

  /** Save as a new config or a new version; returns the version number, or null on problems. */
  async function save(): Promise<number | null> {
    const body = cleaned(draft.value)
    const saved = await guarded(() => (existing.value ? updateConfig(body.id, body) : createConfig(body)))
    if (saved) existing.value = true
    return saved ? saved.version : null
  }

  /** Try the draft on a sample idea (nothing is saved). */
  async function tryOut(idea: string, lang: Lang): Promise<void> {
    dry.value = null
    dry.value = await guarded(() => dryRun(cleaned(draft.value), idea, lang))
  }

  // Live validation: a pause in typing asks the server (same model and lint as saving) and updates
  // the inline problems; only the newest answer counts.
  watch(
    draft,
    () => {
      clearTimeout(timer)
      if (loaded) {
        loaded = false
        return
      }
      timer = setTimeout(async () => {
        const mine = ++checks
        try {
          await validateConfig(cleaned(draft.value))
          if (mine === checks) problems.value = []
        } catch (e) {
          const details = (e as ApiError).details as { problems?: Problem[] } | null
          if (mine === checks && details?.problems) problems.value = details.problems
        }
      }, LIVE_CHECK_MS)
    },
    { deep: true },
  )
  onUnmounted(() => clearTimeout(timer))

  return { draft, existing, problems, problemFor, error, busy, dry, load, save, tryOut }
}
