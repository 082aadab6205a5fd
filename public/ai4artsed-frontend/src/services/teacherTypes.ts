/** Shapes of the teacher, session and moderation endpoints (see docs/API.md). */
import type { Block, Lang } from './types'

export interface Me {
  role: 'anonymous' | 'student' | 'teacher' | 'researcher' | 'admin'
  user: { name: string; role: string } | null
  session: string | null
  csrf_token: string | null
}

export type SafetyLevel = 'kids' | 'youth' | 'adult'

export interface SessionSettings {
  title: string
  safety_level: SafetyLevel
  lang: Lang
  allowed_attitudes: string[] | null
  allowed_outputs: string[] | null
  max_outputs_per_run: number
  runs_per_minute: number
  retention_days: number
}

export interface WorkshopSession extends SessionSettings {
  id: string
  code: string
  closed: boolean
  join_url: string
  students: number
  qr_svg: string
  created_at?: string
}

export interface StudentSession {
  id: string
  title: string
  safety_level: SafetyLevel
  lang: Lang
  closed: boolean
}

export interface Problem {
  field: string
  problem: string
}

export interface EditableConfig {
  id: string
  name: string
  category: string
  source: 'shipped' | 'teacher'
  version: number
  display: { icon: string; color: string; order: number }
  user_defined: boolean
}

export interface EditorPipeline {
  name: string
  type: string
  iterations: number | null
}

export interface ConfigSource {
  id: string
  source: 'shipped' | 'teacher'
  version: number
  text: string
}

export interface ConfigVersion {
  version: number
  action: string
  author: string
  created_at: string
  diff: string
  deleted: boolean
}

export interface DryRunResult {
  status: 'succeeded' | 'blocked'
  level: string
  parts: { task_instruction: string; context: string; input: string }
  iterations: { index: number; text: string; model: string | null }[]
  result?: string
  block?: { checkpoint: string; category: string; teacher_reason: string }
}

export interface BlockedAttempt {
  checkpoint: string
  category: string
  level: string | null
  teacher_reason: string
  text: string | null
  releasable: boolean
}

export interface ModerationRun {
  run_id: string
  status: string
  stage: string | null
  schema: string | null
  input_text: string | null
  interception_result: string | null
  created_at: string
  outputs: { output_config: string; media_type: string; status: string; url: string | null }[]
  blocked: BlockedAttempt | null
  release: { reason: string; released_by: string } | null
}

export interface AuditEntry {
  id: number
  run_id: string
  action: string
  actor: string
  reason: string
  created_at: string
}

export interface OwnAttitude {
  id: string
  name: string
  context: string
  lang: Lang
  published: boolean
  own: boolean
  student_id?: string
}

export type { Block }
