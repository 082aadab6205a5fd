/** Data loaded from the API for a reactive source, reloaded when the source changes. */
import { ref, shallowRef, watch, type Ref, type ShallowRef } from 'vue'
import type { ApiError } from '../services/api'

/** Load `fetch(source)` now and on every change of `source`; a late answer never overwrites a newer one. */
export function useLatestFetch<S, T>(source: Ref<S>, fetch: (source: S) => Promise<T>, initial: T) {
  const value = shallowRef<T>(initial) as ShallowRef<T>
  const loading = ref(false)
  const error = shallowRef<ApiError | null>(null)
  let latest = 0

  async function reload(): Promise<void> {
    const request = ++latest
    loading.value = true
    error.value = null
    try {
      const result = await fetch(source.value)
      if (request === latest) value.value = result
    } catch (e) {
      if (request === latest) error.value = e as ApiError
    } finally {
      if (request === latest) loading.value = false
    }
  }

  watch(source, reload, { immediate: true })
  return { value, loading, error, reload }
}
