/**
 * The student page's actions: start a run, optimize per output, generate, retry, stop.
 *
 * Every action is a POST that answers 202; the run is then followed live through `useRun`.
 * Server results flow into the student store, where the student may edit them before the next
 * step uses them (the server checks every edited text again).
 */
import { computed, ref, shallowRef, toRef, watch, type Ref } from 'vue'
import {
  ApiError,
  cancelRun,
  startGeneration,
  startOptimize,
  newRunId,
  startStage2,
  uploadPicture,
} from '../services/api'
import { isBusy } from '../services/stages'
import type { Lang, RunAccepted } from '../services/types'
import { useRecentRunsStore } from '../stores/recentRuns'
import { useStudentStore, type LastAction } from '../stores/student'
import { useWorkshopStore } from '../stores/workshop'
import { useRun } from './useRun'

/** Wire the student store to the API and to the live run (`takesImage`: the chosen attitude works with a picture). */
export function useStudentFlow(lang: Ref<Lang>, takesImage: Ref<boolean> = ref(false)) {
  const store = useStudentStore()
  const recent = useRecentRunsStore()
  const workshop = useWorkshopStore()
  const run = useRun(toRef(store, 'runId'))
  const actionError = shallowRef<ApiError | null>(null)
  const sending = ref(false)

  watch(run.status, (status) => {
    if (!status) return
    store.syncInterception(status.interception?.result ?? null)
    for (const [id, optimization] of Object.entries(status.optimizations ?? {})) {
      if (optimization.status === 'succeeded') store.syncPrompt(id, optimization.result)
    }
  })

  const busy = computed(() => sending.value || isBusy(run.status.value))
  const interceptionReady = computed(() => store.interceptionSeen !== null && store.interceptionText.trim() !== '')
  const readyOutputs = computed(() =>
    store.chosenOutputs.filter(
      (id) => run.status.value?.optimizations?.[id]?.status === 'succeeded' && (store.prompts[id] ?? '').trim() !== '',
    ),
  )

  async function send(action: LastAction, call: () => Promise<RunAccepted>): Promise<void> {
    store.lastAction = action
    actionError.value = null
    sending.value = true
    try {
      const accepted = await call()
      // Same run, new phase: the id does not change, so re-follow explicitly.
      if (store.runId === accepted.run_id) run.follow(accepted)
      else store.runId = accepted.run_id
    } catch (e) {
      actionError.value = e instanceof ApiError ? e : new ApiError('client', String(e), 0)
    } finally {
      sending.value = false
    }
  }

  /** Start a new run: Stage 1 and the interception of the idea with the (edited) rules. */
  function start(): Promise<void> {
    const schema = store.attitudeId
    if (!schema) return Promise.resolve()
    store.resetRun()
    return send({ kind: 'stage2' }, async () => {
      const picture = takesImage.value ? await pictureForRun() : null
      const accepted = await startStage2({
        schema,
        input_text: store.idea,
        context_prompt: store.rules,
        lang: lang.value,
        ...(workshop.safetyLevel ? { safety_level: workshop.safetyLevel } : {}),
        ...(picture ? { run_id: picture.run_id, input_image: picture.file } : {}),
      })
      recent.remember({ id: accepted.run_id, createdAt: new Date().toISOString(), schema, idea: store.idea.slice(0, 140) })
      return accepted
    })
  }

  /** Return the stored picture for a new run: a picture a run already used goes up again under a new run id. */
  async function pictureForRun() {
    const picture = store.picture
    if (!picture) return null
    if (picture.used) picture.stored = await uploadPicture(newRunId(), picture.file, picture.name)
    picture.used = true
    return picture.stored
  }

  /** Optimize the (edited) interception result for one output model. */
  function optimize(outputId: string): Promise<void> {
    const runId = store.runId
    if (!runId) return Promise.resolve()
    return send({ kind: 'optimize', outputId }, () =>
      startOptimize({ run_id: runId, output_config: outputId, prompt: store.interceptionText, lang: lang.value }),
    )
  }

  /** Choose or un-choose an output; choosing one starts its optimization. */
  async function toggleOutput(outputId: string): Promise<void> {
    if (store.toggleOutput(outputId)) await optimize(outputId)
  }

  /** Run Stages 3 and 4 for the given outputs with their (edited) optimized prompts. */
  function generate(outputIds: string[] = readyOutputs.value): Promise<void> {
    const runId = store.runId
    if (!runId || outputIds.length === 0) return Promise.resolve()
    const seed = Number.parseInt(store.seed, 10)
    const prompts = Object.fromEntries(outputIds.map((id) => [id, store.prompts[id] ?? '']))
    return send({ kind: 'generation', outputIds }, () =>
      startGeneration({
        run_id: runId,
        output_configs: outputIds,
        prompts,
        ...(Number.isFinite(seed) ? { seed } : {}),
        lang: lang.value,
      }),
    )
  }

  /** Repeat the last action that failed. */
  function retry(): Promise<void> {
    const action = store.lastAction
    if (!action) return Promise.resolve()
    switch (action.kind) {
      case 'stage2':
        return start()
      case 'optimize':
        return optimize(action.outputId)
      case 'generation':
        return generate(action.outputIds)
    }
  }

  /** Ask the server to stop the running phase. */
  async function cancel(): Promise<void> {
    if (!store.runId) return
    try {
      await cancelRun(store.runId)
    } catch (e) {
      actionError.value = e as ApiError
    }
  }

  return {
    store, run, actionError, sending, busy, interceptionReady, readyOutputs,
    start, optimize, toggleOutput, generate, retry, cancel,
  }
}
