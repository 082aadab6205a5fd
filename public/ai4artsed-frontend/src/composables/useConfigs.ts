/** Interception configs (attitudes) from the API, reloaded whenever the UI language changes. */
import { ref, shallowRef, watch, type Ref } from 'vue'
import { ApiError, getInterceptionConfig, listInterceptionConfigs } from '../services/api'
import type { InterceptionConfig, InterceptionConfigDetail, Lang } from '../services/types'

/** Load the attitude list for `lang` and offer loading one config in full. */
export function useConfigs(lang: Ref<Lang>) {
  const configs = shallowRef<InterceptionConfig[]>([])
  const loading = ref(false)
  const error = shallowRef<ApiError | null>(null)
  let latest = 0

  async function reload(): Promise<void> {
    const request = ++latest
    loading.value = true
    error.value = null
    try {
      const result = await listInterceptionConfigs(lang.value)
      if (request === latest) configs.value = result
    } catch (e) {
      if (request === latest) error.value = e as ApiError
    } finally {
      if (request === latest) loading.value = false
    }
  }

  /** Fetch one config with its context text in the current language. */
  function loadDetail(id: string): Promise<InterceptionConfigDetail> {
    return getInterceptionConfig(id, lang.value)
  }

  watch(lang, reload, { immediate: true })
  return { configs, loading, error, reload, loadDetail }
}
