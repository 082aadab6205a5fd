/**
 * Derive what each box of the live view shows from a run's status snapshot.
 *
 * The server reports only where the run is now (phase, step, status); which earlier steps are
 * done follows from the fixed order of the pipeline (DESIGN §2).
 */
import type { RunOutput, RunStatus } from './types'

export type BoxState = 'pending' | 'running' | 'done' | 'blocked' | 'failed' | 'stopped'

/** The steps of Stage 1 and Stage 2, in pipeline order; each gets one box. */
export const STAGE2_STEPS = ['safety', 'translation', 'interception'] as const
export type Stage2Step = (typeof STAGE2_STEPS)[number]

const LATER_PHASES = ['optimize', 'generation']

const BLOCK_POSITION: Record<string, number> = { stage1: 0, stage2: 2 }
// Steps shown in another step's box: a student's picture is described while the input is prepared.
const SHOWN_AS: Record<string, Stage2Step> = { image_description: 'translation' }

function positionOf(status: RunStatus): number {
  const step = (status.step !== null && SHOWN_AS[status.step]) || status.step
  const index = STAGE2_STEPS.indexOf(step as Stage2Step)
  if (index >= 0) return index
  if (status.step !== null) return STAGE2_STEPS.length // a later step: optimization, Stage 3, 4
  if (status.block) return BLOCK_POSITION[status.block.stage] ?? STAGE2_STEPS.length
  // Running without a step yet means Stage 1 is starting; otherwise nothing has happened yet
  // (queued) or the run failed before any step, which the error card explains.
  return status.status === 'running' ? 0 : -1
}

/** State of each Stage 1/2 box for a status snapshot (null: nothing started yet). */
export function stage2BoxStates(status: RunStatus | null): Record<Stage2Step, BoxState> {
  const states = { safety: 'pending', translation: 'pending', interception: 'pending' } as Record<Stage2Step, BoxState>
  if (!status) return states
  const later = status.phase !== null && LATER_PHASES.includes(status.phase)
  const position = later || status.status === 'succeeded' ? STAGE2_STEPS.length : positionOf(status)
  const atPosition: BoxState =
    status.status === 'blocked' ? 'blocked'
      : status.status === 'failed' ? 'failed'
        : status.status === 'cancelled' || status.status === 'interrupted' ? 'stopped'
          : 'running'
  STAGE2_STEPS.forEach((step, index) => {
    if (index < position) states[step] = 'done'
    else if (index === position) states[step] = atPosition
  })
  return states
}

export type VerdictState = 'pending' | 'checking' | 'passed' | 'blocked'

/** Stage 3 (pre-output safety) state of one output. */
export function stage3Verdict(output: RunOutput, run: RunStatus): VerdictState {
  if (output.status === 'blocked') return 'blocked'
  if (output.status === 'succeeded') return 'passed'
  if (output.status === 'running') {
    // Only one output runs at a time, so the run's stage is this output's stage.
    return run.stage === 'stage3' ? 'checking' : 'passed'
  }
  return 'pending'
}

/** Whether the run is doing something right now (buttons that start a phase wait for it). */
export function isBusy(status: RunStatus | null): boolean {
  return status !== null && (status.status === 'queued' || status.status === 'running')
}
