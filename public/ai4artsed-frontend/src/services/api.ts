/**
 * The one HTTP client of the app: every call to the DevServer API goes through here.
 *
 * Errors always surface as `ApiError` carrying the server's envelope (`{"error": {code, message}}`),
 * so components never have to parse responses or show raw HTTP failures.
 */
import type {
  Health,
  InterceptionConfig,
  InterceptionConfigDetail,
  Lang,
  OutputConfig,
  RunAccepted,
  RunPage,
  RunRecord,
  RunStatus,
  SafetyCheckResult,
  UploadedPicture,
} from './types'

/** An API failure with the server's error code and human-readable message. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details: unknown = null,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

let apiBase: string | null = null

/** Point the client at another origin (tests use a loopback server); null means the page's own. */
export function setApiBase(base: string | null): void {
  apiBase = base
}

/** Turn a server path such as `/api/media/image/<id>/0` into an absolute URL. */
export function resolveUrl(path: string): string {
  return new URL(path, apiBase ?? window.location.origin).toString()
}

async function errorFrom(response: Response): Promise<ApiError> {
  try {
    const body = await response.json()
    const error = body?.error
    if (error && typeof error.message === 'string') {
      return new ApiError(String(error.code ?? 'error'), error.message, response.status, error.details ?? null)
    }
  } catch {
    // Not our JSON envelope (e.g. a proxy's HTML page): fall through to a generic error.
  }
  return new ApiError(`http_${response.status}`, response.statusText || 'Request failed', response.status)
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** Read the CSRF token the server put into the `csrf_token` cookie (absent without a login or pass). */
export function csrfToken(): string | null {
  const match = document.cookie.split('; ').find((part) => part.startsWith('csrf_token='))
  return match ? decodeURIComponent(match.slice('csrf_token='.length)) : null
}

/** Headers of a request: JSON, and on writes the CSRF token echoed back (the server refuses writes without it). */
function headersFor(method: HttpMethod, hasBody: boolean): Record<string, string> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (hasBody) headers['Content-Type'] = 'application/json'
  const token = method === 'GET' ? null : csrfToken()
  if (token) headers['X-CSRF-Token'] = token
  return headers
}

/** Send one request to the API and return its JSON answer; failures become an `ApiError`. */
export async function request<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
  let response: Response
  try {
    response = await fetch(resolveUrl(path), {
      method,
      headers: headersFor(method, body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (cause) {
    throw new ApiError('network', cause instanceof Error ? cause.message : 'Network error', 0)
  }
  if (!response.ok) throw await errorFrom(response)
  return (await response.json()) as T
}

const q = (lang: Lang) => `lang=${encodeURIComponent(lang)}`

/** List every interception config (attitude) in the given language. */
export async function listInterceptionConfigs(lang: Lang): Promise<InterceptionConfig[]> {
  return (await request<{ configs: InterceptionConfig[] }>('GET', `/api/configs/interception?${q(lang)}`)).configs
}

/** Load one interception config with its context text. */
export function getInterceptionConfig(id: string, lang: Lang): Promise<InterceptionConfigDetail> {
  return request('GET', `/api/configs/${encodeURIComponent(id)}?${q(lang)}`)
}

/** List every output config (media model) with its availability. */
export async function listOutputs(lang: Lang): Promise<OutputConfig[]> {
  return (await request<{ outputs: OutputConfig[] }>('GET', `/api/configs/outputs?${q(lang)}`)).outputs
}

/** Ask the fast safety check about a text before the student starts a run. */
export function checkSafety(text: string, lang: Lang): Promise<SafetyCheckResult> {
  return request('POST', '/api/safety/check', { text, lang })
}

export interface Stage2Request {
  schema: string
  input_text: string
  context_prompt: string
  safety_level?: string
  lang: Lang
  run_id?: string
  input_image?: string
}

export interface OptimizeRequest {
  run_id: string
  output_config: string
  prompt: string
  lang: Lang
}

export interface GenerationRequest {
  run_id: string
  output_configs: string[]
  prompts: Record<string, string>
  seed?: number
  lang: Lang
}

/** Upload a picture into a run (the run id may be new: the upload opens it); the server strips its metadata. */
export async function uploadPicture(runId: string, file: Blob, name: string): Promise<UploadedPicture> {
  const form = new FormData()
  form.append('run_id', runId)
  form.append('file', file, name)
  const headers: Record<string, string> = { Accept: 'application/json' }
  const token = csrfToken()
  if (token) headers['X-CSRF-Token'] = token
  let response: Response
  try {
    // no Content-Type: the browser writes the multipart boundary itself
    response = await fetch(resolveUrl('/api/uploads'), { method: 'POST', headers, body: form })
  } catch (cause) {
    throw new ApiError('network', cause instanceof Error ? cause.message : 'Network error', 0)
  }
  if (!response.ok) throw await errorFrom(response)
  return (await response.json()) as UploadedPicture
}

/** Return a new run id (uuid4): `crypto.randomUUID` exists only on https or localhost, a school LAN may have neither. */
export function newRunId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  bytes[6] = (bytes[6] & 0x0f) | 0x40
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** Start Stage 1 and the interception (Stage 2) for a new run. */
export function startStage2(body: Stage2Request): Promise<RunAccepted> {
  return request('POST', '/api/schema/pipeline/stage2', body)
}

/** Start the optimization of the interception result for one output model. */
export function startOptimize(body: OptimizeRequest): Promise<RunAccepted> {
  return request('POST', '/api/schema/pipeline/optimize', body)
}

/** Start Stage 3 safety and Stage 4 generation for the chosen outputs. */
export function startGeneration(body: GenerationRequest): Promise<RunAccepted> {
  return request('POST', '/api/schema/pipeline/generation', body)
}

/** Path of a run's status snapshot (the source of truth). */
export function statusPath(runId: string): string {
  return `/api/pipeline/${encodeURIComponent(runId)}/status`
}

/** Path of a run's server-sent event stream. */
export function eventsPath(runId: string): string {
  return `/api/pipeline/${encodeURIComponent(runId)}/events`
}

/** Fetch a status snapshot from a status path or URL. */
export function fetchStatus(path: string): Promise<RunStatus> {
  return request('GET', path)
}

/** Ask the server to cancel a running run. */
export function cancelRun(runId: string): Promise<RunStatus> {
  return request('POST', `/api/pipeline/${encodeURIComponent(runId)}/cancel`, {})
}

/** Load a run's journey as a student may see it: its status and its event log, withheld texts without content. */
export function getRunJourney(runId: string): Promise<RunRecord> {
  return request('GET', `/api/pipeline/${encodeURIComponent(runId)}/journey`)
}

/** List the caller's own runs, newest first (a student's pass, or the single-person default session). */
export function listMyRuns(limit = 50): Promise<RunPage> {
  return request('GET', `/api/runs/mine?limit=${limit}`)
}

/** Fetch a text medium (generated code or text) as a string. */
export async function fetchText(path: string): Promise<string> {
  let response: Response
  try {
    response = await fetch(resolveUrl(path))
  } catch (cause) {
    throw new ApiError('network', cause instanceof Error ? cause.message : 'Network error', 0)
  }
  if (!response.ok) throw await errorFrom(response)
  return response.text()
}

/** Read the server's health (backends, model roles, whether a demo model is in use). */
export function getHealth(): Promise<Health> {
  return request<Health>('GET', '/api/health')
}
