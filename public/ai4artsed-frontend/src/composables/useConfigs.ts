/** Interception configs (attitudes) from the API, reloaded whenever the UI language changes. */
import type { Ref } from 'vue'
import { getInterceptionConfig, listInterceptionConfigs } from '../services/api'
import type { InterceptionConfigDetail, Lang } from '../services/types'
import { useLatestFetch } from './useLatestFetch'

/** Load the attitude list for `lang` and offer loading one config in full. */
export function useConfigs(lang: Ref<Lang>) {
  const { value: configs, loading, error, reload } = useLatestFetch(lang, listInterceptionConfigs, [])

  /** Fetch one config with its context text in the current language. */
  function loadDetail(id: string): Promise<InterceptionConfigDetail> {
    return getInterceptionConfig(id, lang.value)
  }

  return { configs, loading, error, reload, loadDetail }
}
