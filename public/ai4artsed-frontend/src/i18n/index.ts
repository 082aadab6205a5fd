/**
 * vue-i18n setup: German by default, English on request, the choice kept in localStorage.
 *
 * The esm-bundler build compiles messages just in time into an AST that is interpreted, never
 * through `eval`/`new Function`, so the app runs under a strict Content-Security-Policy.
 */
import { computed, type ComputedRef } from 'vue'
import { createI18n, useI18n } from 'vue-i18n'
import type { Lang } from '../services/types'
import de from './de.json'
import en from './en.json'

export const LANGS: readonly Lang[] = ['de', 'en']
const STORAGE_KEY = 'ai4artsed.lang'

function storedLang(): Lang {
  try {
    const value = window.localStorage.getItem(STORAGE_KEY)
    return LANGS.includes(value as Lang) ? (value as Lang) : 'de'
  } catch {
    return 'de' // storage blocked (private mode): fall back to the default
  }
}

/** Create the i18n instance, starting in the stored language. */
export function createAppI18n(locale: Lang = storedLang()) {
  return createI18n({
    legacy: false,
    locale,
    fallbackLocale: 'de',
    messages: { de, en },
  })
}

export const i18n = createAppI18n()

/** Current UI language as an API `lang` value, and a setter that remembers the choice. */
export function useLang(): { lang: ComputedRef<Lang>; setLang: (lang: Lang) => void } {
  const { locale } = useI18n({ useScope: 'global' })
  const lang = computed(() => locale.value as Lang)
  function setLang(next: Lang): void {
    locale.value = next
    document.documentElement.lang = next
    try {
      window.localStorage.setItem(STORAGE_KEY, next)
    } catch {
      // Storage blocked: the switch still works for this page view.
    }
  }
  return { lang, setLang }
}
