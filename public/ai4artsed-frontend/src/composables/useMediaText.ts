/** The text content of a generated medium (code or text), fetched from the media endpoint. */
import { ref, shallowRef, watch, type Ref } from 'vue'
import { ApiError, fetchText } from '../services/api'

/** Load the text behind `url` whenever it changes. */
export function useMediaText(url: Ref<string>) {
  const text = ref<string | null>(null)
  const error = shallowRef<ApiError | null>(null)
  let latest = 0

  async function load(): Promise<void> {
    const request = ++latest
    text.value = null
    error.value = null
    try {
      const body = await fetchText(url.value)
      if (request === latest) text.value = body
    } catch (e) {
      if (request === latest) error.value = e as ApiError
    }
  }

  watch(url, load, { immediate: true })
  return { text, error, reload: load }
}
