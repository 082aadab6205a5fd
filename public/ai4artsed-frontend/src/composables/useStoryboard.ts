/**
 * One storyboard run: follow it live, keep the student's draft of the scene list, and send the actions
 * (save the edited scenes, draw every scene, animate one scene).
 *
 * The draft is rebuilt from the server's storyboard whenever a new one arrives and nothing is unsaved;
 * a blocked scene arrives without its texts, so its fields start empty and must be rewritten (or the
 * scene removed) before the server sees new text for it.
 */
import { computed, ref, shallowRef, watch, type Ref } from 'vue'
import { ApiError } from '../services/api'
import { isBusy } from '../services/stages'
import { animateScene, drawScenes, saveScenes, type SceneEdit } from '../services/storyboardApi'
import type { Block, Lang, RunAccepted, RunOutput, Storyboard } from '../services/types'
import { useRun } from './useRun'

export const MAX_SCENES = 8
export type SceneState = 'waiting' | 'running' | 'done' | 'blocked' | 'failed'

export interface DraftScene {
  key: string
  id: string | null
  description: string
  generation_prompt: string
  blocked: Block | null
  output: number | null
  changed: boolean
}

const OUTPUT_STATES: Record<string, SceneState> = {
  queued: 'waiting', running: 'running', succeeded: 'done', blocked: 'blocked', failed: 'failed',
  cancelled: 'failed', interrupted: 'failed',
}

let newKeys = 0

function toDraft(board: Storyboard): DraftScene[] {
  return board.scenes.map((scene) => ({
    key: scene.id,
    id: scene.id,
    description: scene.description ?? '',
    generation_prompt: scene.generation_prompt ?? '',
    blocked: scene.status === 'blocked' ? scene.block : null,
    output: scene.output,
    changed: false,
  }))
}

/** The request entry for one draft scene: unchanged scenes by id only. */
function toEdit(scene: DraftScene): SceneEdit {
  if (scene.id && !scene.changed) return { id: scene.id }
  const texts = { description: scene.description.trim(), generation_prompt: scene.generation_prompt.trim() }
  return scene.id ? { id: scene.id, ...texts } : texts
}

/** Follow the storyboard run `runId` and offer its actions. */
export function useStoryboard(runId: Ref<string | null>, lang: Ref<Lang>) {
  const run = useRun(runId)
  const draft = ref<DraftScene[]>([])
  const dirty = ref(false)
  const sending = ref(false)
  const actionError = shallowRef<ApiError | null>(null)

  watch(
    () => run.status.value?.storyboard,
    (board) => {
      if (board && !dirty.value) draft.value = toDraft(board)
    },
  )

  const board = computed(() => run.status.value?.storyboard ?? null)
  const busy = computed(() => sending.value || isBusy(run.status.value))
  const outputs = computed<RunOutput[]>(() => run.status.value?.outputs ?? [])
  const complete = (scene: DraftScene) =>
    (!scene.changed && scene.id !== null && scene.blocked === null) ||
    (scene.changed && scene.description.trim() !== '' && scene.generation_prompt.trim() !== '')
  const canSave = computed(
    () => dirty.value && !busy.value && draft.value.length >= 1 && draft.value.length <= MAX_SCENES &&
      draft.value.every((s) => complete(s) || (!s.changed && s.blocked !== null)),
  )
  const canDraw = computed(() => board.value !== null && !dirty.value && !busy.value)

  function outputOf(scene: DraftScene): RunOutput | null {
    return scene.output === null ? null : (outputs.value.find((o) => o.index === scene.output) ?? null)
  }

  /** The state a scene's card shows. */
  function stateOf(scene: DraftScene): SceneState {
    if (scene.blocked && !scene.changed) return 'blocked'
    const output = scene.changed ? null : outputOf(scene)
    return output ? (OUTPUT_STATES[output.status] ?? 'waiting') : 'waiting'
  }

  function touch(): void {
    dirty.value = true
  }

  function edit(index: number, field: 'description' | 'generation_prompt', value: string): void {
    const scene = draft.value[index]
    if (!scene) return
    scene[field] = value
    scene.changed = true
    touch()
  }

  function move(index: number, delta: number): void {
    const target = index + delta
    if (target < 0 || target >= draft.value.length) return
    const scenes = [...draft.value]
    const [moved] = scenes.splice(index, 1)
    scenes.splice(target, 0, moved)
    draft.value = scenes
    touch()
  }

  function remove(index: number): void {
    if (draft.value.length <= 1) return
    draft.value = draft.value.filter((_, i) => i !== index)
    touch()
  }

  function add(): void {
    if (draft.value.length >= MAX_SCENES) return
    draft.value = [...draft.value, { key: `new-${++newKeys}`, id: null, description: '', generation_prompt: '',
      blocked: null, output: null, changed: true }]
    touch()
  }

  /** Forget unsaved changes: the server's storyboard again. */
  function discard(): void {
    dirty.value = false
    if (board.value) draft.value = toDraft(board.value)
  }

  async function send(call: () => Promise<RunAccepted>): Promise<RunAccepted | null> {
    actionError.value = null
    sending.value = true
    try {
      return await call()
    } catch (e) {
      actionError.value = e instanceof ApiError ? e : new ApiError('client', String(e), 0)
      return null
    } finally {
      sending.value = false
    }
  }

  async function save(): Promise<void> {
    const id = runId.value
    if (!id || !canSave.value) return
    const accepted = await send(() => saveScenes(id, draft.value.map(toEdit), lang.value))
    if (accepted) {
      dirty.value = false
      run.follow(accepted)
    }
  }

  async function draw(outputConfig: string, seed?: number): Promise<void> {
    const id = runId.value
    if (!id || !canDraw.value) return
    const accepted = await send(() => drawScenes(id, outputConfig, lang.value, seed))
    if (accepted) run.follow(accepted)
  }

  /** Start a new run that animates the scene's picture; returns its run id. */
  async function animate(scene: DraftScene, outputConfig: string): Promise<string | null> {
    const output = outputOf(scene)
    if (!runId.value || !output?.file || output.status !== 'succeeded') return null
    const image = `${runId.value}/${output.file}`
    const accepted = await send(() => animateScene(image, scene.generation_prompt, outputConfig, lang.value))
    return accepted?.run_id ?? null
  }

  return {
    run, draft, dirty, busy, board, canSave, canDraw, actionError,
    outputOf, stateOf, edit, move, remove, add, discard, save, draw, animate,
  }
}
