/** The text content of a generated medium (code or text), fetched from the media endpoint. */
import type { Ref } from 'vue'
import { fetchText } from '../services/api'
import { useLatestFetch } from './useLatestFetch'

/** Load the text behind `url` whenever it changes. */
export function useMediaText(url: Ref<string>) {
  const { value: text, error, reload } = useLatestFetch<string, string | null>(url, fetchText, null)
  return { text, error, reload }
}
