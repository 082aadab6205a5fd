/** Output configs (media models) from the API, reloaded whenever the UI language changes. */
import { ref, shallowRef, watch, type Ref } from 'vue'
import { ApiError, listOutputs } from '../services/api'
import type { Lang, OutputConfig } from '../services/types'

/** Load the output list for `lang`, with availability as the server reports it. */
export function useOutputs(lang: Ref<Lang>) {
  const outputs = shallowRef<OutputConfig[]>([])
  const loading = ref(false)
  const error = shallowRef<ApiError | null>(null)
  let latest = 0

  async function reload(): Promise<void> {
    const request = ++latest
    loading.value = true
    error.value = null
    try {
      const result = await listOutputs(lang.value)
      if (request === latest) outputs.value = result
    } catch (e) {
      if (request === latest) error.value = e as ApiError
    } finally {
      if (request === latest) loading.value = false
    }
  }

  watch(lang, reload, { immediate: true })
  return { outputs, loading, error, reload }
}
