/** Output configs (media models) from the API, reloaded whenever the UI language changes. */
import type { Ref } from 'vue'
import { listOutputs } from '../services/api'
import type { Lang } from '../services/types'
import { useLatestFetch } from './useLatestFetch'

/** Load the output list for `lang`, with availability as the server reports it. */
export function useOutputs(lang: Ref<Lang>) {
  const { value: outputs, loading, error, reload } = useLatestFetch(lang, listOutputs, [])
  return { outputs, loading, error, reload }
}
