/** Status snapshots and config lists shaped like the API contract, for tests. */
import type { InterceptionConfig, OutputConfig, RunStatus } from '../services/types'

/** An interception config list entry with sensible defaults. */
export function attitude(overrides: Partial<InterceptionConfig> & { id: string }): InterceptionConfig {
  return {
    name: overrides.id,
    description: `About ${overrides.id}`,
    category: 'Art movements',
    pipeline_type: 'prompt_interception',
    iterations: null,
    user_defined: false,
    display: { icon: '🎭', color: '#e11d48', order: 10 },
    audience: { min_age: 0 },
    ...overrides,
  }
}

/** An output config list entry with sensible defaults. */
export function output(overrides: Partial<OutputConfig> & { id: string }): OutputConfig {
  return {
    name: overrides.id,
    description: `Makes ${overrides.id}`,
    media_type: 'image',
    backend: 'sketch',
    model: null,
    estimated_duration_seconds: 5,
    available: true,
    unavailable_reason: null,
    has_optimization: true,
    display: { icon: '✏️', color: '#6b7280', order: 900 },
    audience: { min_age: 0 },
    ...overrides,
  }
}

/** A run status snapshot; everything not given is null/empty like a fresh run. */
export function snapshot(overrides: Partial<RunStatus> = {}): RunStatus {
  return {
    run_id: 'run-1',
    status: 'running',
    phase: 'stage2',
    stage: 'stage1',
    step: 'safety',
    progress: null,
    queue_position: null,
    safety_level: 'youth',
    schema: 'dada',
    input_text: 'a red house',
    context_prompt: 'rules',
    translation: null,
    interception: null,
    optimizations: null,
    outputs: null,
    block: null,
    error: null,
    created_at: null,
    updated_at: null,
    ...overrides,
  }
}
