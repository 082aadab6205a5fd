/**
 * What the app knows about the workshop the student is in.
 *
 * The age is unknown (null) until workshop sessions exist; then the join flow sets it and the
 * attitude picker hides configs meant for older students.
 */
import { defineStore } from 'pinia'
import { ref } from 'vue'

export const useWorkshopStore = defineStore('workshop', () => {
  const age = ref<number | null>(null)
  const safetyLevel = ref<string | null>(null)
  const title = ref<string | null>(null)
  return { age, safetyLevel, title }
})
