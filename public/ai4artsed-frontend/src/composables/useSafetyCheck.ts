/**
 * A friendly early hint while the student types: the idea is checked on blur, debounced.
 *
 * This is only a hint. The server checks every text again when a run starts (and fails closed),
 * so a failed hint request shows nothing rather than an error.
 */
import { onScopeDispose, shallowRef, type Ref } from 'vue'
import { checkSafety } from '../services/api'
import type { ChildMessage, Lang } from '../services/types'

/** Debounce safety checks of a text and expose the block message, if any. */
export function useSafetyCheck(lang: Ref<Lang>, delayMs = 400) {
  const hint = shallowRef<ChildMessage | null>(null)
  let timer: ReturnType<typeof setTimeout> | null = null
  let latest = 0

  async function run(text: string): Promise<void> {
    const request = ++latest
    try {
      const result = await checkSafety(text, lang.value)
      if (request !== latest) return
      hint.value = result.verdict.decision === 'block' ? result.message : null
    } catch {
      if (request === latest) hint.value = null
    }
  }

  /** Schedule a check of `text`; empty text clears the hint without asking the server. */
  function schedule(text: string): void {
    if (timer) clearTimeout(timer)
    if (!text.trim()) {
      latest++
      hint.value = null
      return
    }
    timer = setTimeout(() => void run(text), delayMs)
  }

  onScopeDispose(() => {
    if (timer) clearTimeout(timer)
  })
  return { hint, schedule }
}
