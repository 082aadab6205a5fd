/**
 * The student's work in progress: inputs, edited texts and the current run id.
 *
 * Kept in a store so that a look at the journey page and back loses nothing. Edited texts are
 * stored next to the last server value they were based on, so a fresh server result replaces
 * the text while a repeated snapshot of the same result never overwrites the student's edits.
 */
import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { UploadedPicture } from '../services/types'

/** The student's picture: the file chosen (kept to upload again for a new run) and where the server stored it. */
export interface PictureChoice {
  file: Blob
  name: string
  previewUrl: string
  stored: UploadedPicture
  used: boolean // a run was started with it: the next run uploads it again under its own run id
}

export type LastAction =
  | { kind: 'stage2' }
  | { kind: 'optimize'; outputId: string }
  | { kind: 'generation'; outputIds: string[] }

export const useStudentStore = defineStore('student', () => {
  const idea = ref('')
  const attitudeId = ref<string | null>(null)
  const rules = ref('')
  const runId = ref<string | null>(null)
  const interceptionText = ref('')
  const interceptionSeen = ref<string | null>(null)
  const chosenOutputs = ref<string[]>([])
  const prompts = ref<Record<string, string>>({})
  const promptsSeen = ref<Record<string, string>>({})
  const seed = ref('')
  const lastAction = ref<LastAction | null>(null)
  const picture = ref<PictureChoice | null>(null)

  /** Forget everything that belonged to the previous run. */
  function resetRun(): void {
    interceptionText.value = ''
    interceptionSeen.value = null
    chosenOutputs.value = []
    prompts.value = {}
    promptsSeen.value = {}
  }

  /** Take over a new interception result unless it is the one already shown. */
  function syncInterception(result: string | null): void {
    if (result === null || result === interceptionSeen.value) return
    interceptionSeen.value = result
    interceptionText.value = result
  }

  /** Take over a new optimized prompt for one output unless it is the one already shown. */
  function syncPrompt(outputId: string, result: string | null | undefined): void {
    if (result == null || promptsSeen.value[outputId] === result) return
    promptsSeen.value = { ...promptsSeen.value, [outputId]: result }
    prompts.value = { ...prompts.value, [outputId]: result }
  }

  /** Add or remove an output from the chosen set; returns true when it was added. */
  function toggleOutput(outputId: string): boolean {
    const chosen = chosenOutputs.value.includes(outputId)
    chosenOutputs.value = chosen
      ? chosenOutputs.value.filter((id) => id !== outputId)
      : [...chosenOutputs.value, outputId]
    return !chosen
  }

  return {
    idea, attitudeId, rules, runId, interceptionText, interceptionSeen, chosenOutputs, prompts,
    promptsSeen, seed, lastAction, picture, resetRun, syncInterception, syncPrompt, toggleOutput,
  }
})
