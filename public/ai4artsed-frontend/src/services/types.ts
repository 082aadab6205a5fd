/** Shapes of the DevServer HTTP API as the student app reads them (see docs/FRONTEND.md). */

export type Lang = 'de' | 'en'

export interface Display {
  icon: string
  color: string
  order: number
}

export interface Audience {
  min_age: number | null
}

export interface InterceptionConfig {
  id: string
  name: string
  description: string
  category: string
  pipeline_type: string
  iterations: number | null
  user_defined: boolean
  display: Display
  audience: Audience
  media_preferences?: { default_output: string | null; preferred_media: string[] }
  /** The attitude works with a picture the student uploads (described by the server's vision model). */
  takes_image?: boolean
  available?: boolean
  unavailable_reason?: string | null
}

/** What the server answers for a stored picture (`POST /api/uploads`). */
export interface UploadedPicture {
  run_id: string
  file: string
  mime: string
  width: number
  height: number
  bytes: number
}

export interface InterceptionConfigDetail extends InterceptionConfig {
  context: string
  prompt_structure: { task_instruction: string; context: string }
}

export interface OutputConfig {
  id: string
  name: string
  description: string
  media_type: string
  backend: string
  model: string | null
  estimated_duration_seconds: number | null
  available: boolean
  unavailable_reason: string | null
  has_optimization: boolean
  takes_image?: boolean // starts from the student's picture (img2img, image → video)
  takes_denoise?: boolean // the student sets how much the picture may change
  display: Display
  audience: Audience
}

export interface ChildMessage {
  title: string
  what: string
  why: string
  try_instead: string
}

export interface SafetyCheckResult {
  verdict: { decision: 'allow' | 'block'; category: string | null; checkpoint: string; level: string }
  message: ChildMessage | null
}

export interface Block {
  stage: string
  checkpoint: string
  category: string
  message: Partial<Record<string, ChildMessage>>
}

export interface RunError {
  code: string
  message: string
}

export interface Progress {
  current: number
  total: number
}

export type RunState = 'queued' | 'running' | 'succeeded' | 'blocked' | 'failed' | 'cancelled' | 'interrupted'

export type OutputState = 'queued' | 'running' | 'succeeded' | 'failed' | 'blocked' | 'cancelled'

export interface InterceptionIteration {
  index: number
  language: string | null
  text: string
  /** The English translation the pass was checked in (a pass that is not English), else null. */
  back_translation?: string | null
}

export interface Interception {
  task_instruction: string
  context: string
  input: string
  iterations: InterceptionIteration[]
  result: string | null
}

export interface Optimization {
  instruction: string | null
  input: string | null
  result: string | null
  status: 'running' | 'succeeded' | 'failed' | 'blocked'
}

export interface RunOutput {
  index: number
  output_config: string
  media_type: string
  status: OutputState
  prompt: string | null
  negative_prompt: string | null
  seed: number | null
  url: string | null
  mime: string | null
  progress: Progress | null
  queue_position: number | null
  error: RunError | null
  block: Block | null
  /** The run folder's file name of the result (for a picture: `<run_id>/<file>` is its reference). */
  file?: string | null
  /** The storyboard scene (its id) this output draws. */
  scene?: string | null
}

/** A storyboard scene; a blocked one comes without its texts. */
export interface StoryboardScene {
  id: string
  description?: string
  generation_prompt?: string
  status: 'ready' | 'blocked'
  block: Block | null
  /** Index into the run's outputs once the scene was drawn. */
  output: number | null
  edited: boolean
}

export interface Storyboard {
  title: string
  logline: string
  scenes: StoryboardScene[]
  output_config: string | null
}

export interface RunStatus {
  run_id: string
  status: RunState
  phase: string | null
  stage: string | null
  step: string | null
  progress: Progress | null
  queue_position: number | null
  safety_level: string | null
  schema: string | null
  input_text: string | null
  context_prompt: string | null
  translation: string | null
  interception: Interception | null
  optimizations: Record<string, Optimization> | null
  outputs: RunOutput[] | null
  block: Block | null
  error: RunError | null
  created_at: string | null
  updated_at: string | null
  notices?: QualityNotice[]
  storyboard?: Storyboard | null
}

/** The quality gate kept an earlier text instead of a model's answer (code: why). */
export interface QualityNotice {
  stage: string
  step: string
  code: 'not_translated' | 'interception_kept_input' | 'optimization_kept_input'
}

/** The part of /api/health the app shows: which model roles run on the tiny demo model. */
export interface Health {
  demo_model?: { roles: string[] }
}

export interface RunAccepted {
  run_id: string
  status: RunState
  status_url: string
  events_url: string
}

/** One line of a run's event log (`events.jsonl`). */
export interface RunEventItem {
  sequence: number
  timestamp: string
  stage: string | null
  stage_iteration?: number | null
  loop_iteration?: number | null
  item_type: string
  media_type?: string | null
  content?: unknown
  file?: string | null
  metadata?: Record<string, unknown> | null
}

export interface RunRecord {
  metadata: Record<string, unknown>
  events: RunEventItem[]
}

export const TERMINAL_STATES: readonly RunState[] = ['succeeded', 'blocked', 'failed', 'cancelled', 'interrupted']

/** One row of a run list (`GET /api/runs/mine`). */
export interface RunSummary {
  run_id: string
  created_at: string
  updated_at: string
  status: RunState
  schema: string | null
  input_preview: string
  media_types: string[]
}

/** A page of runs with the total count. */
export interface RunPage {
  runs: RunSummary[]
  total: number
  limit: number
  offset: number
}
