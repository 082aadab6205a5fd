/**
 * Words for the values the research API reports (status, safety level, safety category, moderation).
 *
 * The server stays the source of the values; a value the UI has no words for yet is shown as sent.
 */
import { useI18n } from 'vue-i18n'

export type LabelledField = 'status' | 'safety_level' | 'safety_category' | 'moderation'

export function useResearchLabels() {
  const { t, te } = useI18n()
  /** Return the UI words for `value` of `field` ("–" when there is none). */
  function label(field: LabelledField, value: string | null | undefined): string {
    if (value === null || value === undefined || value === '') return '–'
    const key = `research.value.${field}.${value}`
    return te(key) ? t(key) : value
  }
  return { label }
}
