/** Calls of the teacher dashboard, the join page and students' own attitudes (through the one client). */
import { request } from './api'
import type { Lang } from './types'
import type {
  AuditEntry,
  ConfigSource,
  ConfigVersion,
  DryRunResult,
  EditableConfig,
  EditorPipeline,
  Me,
  ModerationRun,
  OwnAttitude,
  SessionSettings,
  StudentSession,
  WorkshopSession,
} from './teacherTypes'

const enc = encodeURIComponent

/** Say who this browser is (and refresh the CSRF cookie). */
export const getMe = () => request<Me>('GET', '/api/auth/me')
/** Log a teacher in with name and password. */
export const login = (name: string, password: string) => request<{ user: Me['user'] }>('POST', '/api/auth/login', { name, password })
/** End this browser's teacher login. */
export const logout = () => request('POST', '/api/auth/logout', {})

/** List the teacher's workshop sessions. */
export const listSessions = async () => (await request<{ sessions: WorkshopSession[] }>('GET', '/api/sessions')).sessions
/** Create a session; the answer carries its join code and QR link. */
export const createSession = (body: SessionSettings) => request<WorkshopSession>('POST', '/api/sessions', body)
/** Load one session. */
export const getSession = (id: string) => request<WorkshopSession>('GET', `/api/sessions/${enc(id)}`)
/** Close a session: joined browsers stop starting runs. */
export const closeSession = (id: string) => request<WorkshopSession>('POST', `/api/sessions/${enc(id)}/close`, {})
/** Join a session with its code (students). */
export const joinSession = (code: string, lang: Lang) =>
  request<{ session: StudentSession; student: string }>('POST', '/api/sessions/join', { code, lang })

/** The workshop this browser's pass belongs to (the default session without one). */
export const currentSession = () => request<{ session: StudentSession; student: string | null }>('GET', '/api/sessions/current')
/** Forget this browser's workshop pass (shared computers). */
export const leaveSession = () => request('POST', '/api/sessions/leave', {})

/** List every attitude with its source for the editor. */
export const listEditable = (lang: Lang) =>
  request<{ configs: EditableConfig[]; pipelines: EditorPipeline[] }>('GET', `/api/configs/editor?lang=${lang}`)
/** Load a config's editable JSON text. */
export const getConfigSource = (id: string) => request<ConfigSource>('GET', `/api/configs/interception/${enc(id)}/source`)
/** Validate and lint a config without saving it. */
export const validateConfig = (config: unknown) => request('POST', '/api/configs/validate', config)
/** Try a config on a sample idea. */
export const dryRun = (config: unknown, inputText: string, lang: Lang) =>
  request<DryRunResult>('POST', '/api/configs/dry-run', { config, input_text: inputText, lang })
/** Save a new teacher config. */
export const createConfig = (config: { id: string }) => request<{ version: number }>('POST', '/api/configs/interception', config)
/** Save a new version of a teacher config. */
export const updateConfig = (id: string, config: unknown) =>
  request<{ version: number }>('PUT', `/api/configs/interception/${enc(id)}`, config)
/** Delete a teacher config (its history stays). */
export const deleteConfig = (id: string) => request('DELETE', `/api/configs/interception/${enc(id)}`)
/** List a config's versions with their diffs. */
export const listVersions = async (id: string) =>
  (await request<{ versions: ConfigVersion[] }>('GET', `/api/configs/interception/${enc(id)}/versions`)).versions
/** Make an old version current again. */
export const restoreVersion = (id: string, version: number) =>
  request<{ version: number }>('POST', `/api/configs/interception/${enc(id)}/restore`, { version })

/** A session's runs, live, with blocked attempts. */
export const sessionRuns = async (id: string) =>
  (await request<{ runs: ModerationRun[] }>('GET', `/api/moderation/sessions/${enc(id)}/runs`)).runs
/** Release a blocked run with a written reason. */
export const releaseRun = (runId: string, reason: string) => request('POST', `/api/moderation/runs/${enc(runId)}/release`, { reason })
/** The session's moderation audit log. */
export const sessionAudit = async (id: string) =>
  (await request<{ entries: AuditEntry[] }>('GET', `/api/moderation/sessions/${enc(id)}/audit`)).entries
/** Every attitude the session's students saved. */
export const sessionAttitudes = async (id: string) =>
  (await request<{ attitudes: OwnAttitude[] }>('GET', `/api/moderation/sessions/${enc(id)}/attitudes`)).attitudes
/** Show (or stop showing) a student's attitude to the whole session. */
export const publishAttitude = (sessionId: string, id: string, published: boolean) =>
  request<OwnAttitude>('POST', `/api/moderation/sessions/${enc(sessionId)}/attitudes/${enc(id)}/publish`, { published })

/** The student's own attitudes and the session's published ones. */
export const myAttitudes = async () => (await request<{ attitudes: OwnAttitude[] }>('GET', '/api/attitudes')).attitudes
/** Save the rules the student wrote as a personal attitude. */
export const saveAttitude = (name: string, context: string, lang: Lang) =>
  request<OwnAttitude>('POST', '/api/attitudes', { name, context, lang })
