/** Calls of the research view: listing, statistics, one run's full record, and export links. */
import { request, resolveUrl } from './api'
import type { RunRecord } from './types'

/** The filters of /api/runs/list, /stats and /export; an empty value means "no filter". */
export interface RunFilters {
  status?: string
  schema?: string
  safety_level?: string
  session?: string
  since?: string
  until?: string
  q?: string
  safety_category?: string
  moderation?: string
}

export interface RunRow {
  run_id: string
  created_at: string
  status: string
  schema: string | null
  safety_level: string | null
  session: string | null
  media_types: string[]
  input_preview: string
  block_category: string | null
  released: number
}

export interface RunPage {
  runs: RunRow[]
  total: number
  limit: number
  offset: number
}

export interface Spread {
  n: number
  mean: number | null
  p95: number | null
}

export interface RunStats {
  total: number
  by_status: Record<string, number>
  by_schema: Record<string, number>
  by_safety_level: Record<string, number>
  by_day: Record<string, number>
  by_block_category: Record<string, number>
  block_rate_by_category: Record<string, number>
  stage_ms: Record<string, Spread>
  queue_wait_ms: Spread
}

/** Streamed text formats of the bulk export (the ZIP with media is built by an export job). */
export const EXPORT_FORMATS = ['jsonl', 'csv', 'json', 'xml', 'otel'] as const
export const RUN_EXPORT_FORMATS = ['pdf', 'zip', 'json', 'csv', 'xml', 'otel'] as const

/** Turn the set filters (plus extras) into a query string. */
export function query(filters: RunFilters, extra: Record<string, string | number> = {}): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries({ ...filters, ...extra })) {
    if (value !== undefined && value !== null && String(value) !== '') params.set(key, String(value))
  }
  const text = params.toString()
  return text ? `?${text}` : ''
}

/** One page of matching runs, newest first. */
export const listRuns = (filters: RunFilters, limit: number, offset: number) =>
  request<RunPage>('GET', `/api/runs/list${query(filters, { limit, offset })}`)
/** Counts, block rates, stage durations and queue waits of the matching runs. */
export const runStats = (filters: RunFilters) => request<RunStats>('GET', `/api/runs/stats${query(filters)}`)
/** One run's full record (staff see withheld texts too). */
export const getFullRun = (id: string) =>
  request<RunRecord & { files: string[] }>('GET', `/api/runs/${encodeURIComponent(id)}`)
/** The download link of a bulk export of the matching runs. */
export const bulkExportUrl = (filters: RunFilters, format: string) =>
  resolveUrl(`/api/runs/export${query(filters, { format })}`)
/** The download link of one run in one format. */
export const runExportUrl = (id: string, format: string) =>
  resolveUrl(`/api/runs/${encodeURIComponent(id)}/export/${format}`)

/** A bulk ZIP export built in the background (POST /api/exports). */
export interface ExportJob {
  id: string
  status: 'queued' | 'running' | 'done' | 'failed'
  runs_done: number
  runs_total: number
  runs_matching: number
  truncated: boolean
  bytes: number
  missing: string[]
  error: { code: string; message: string } | null
  status_url: string
  download_url: string | null
}

/** Start building a ZIP (with media) of the runs matching the filters. */
export const startExportJob = (filters: RunFilters) => {
  const body = Object.fromEntries(Object.entries(filters).filter(([, value]) => value !== undefined && value !== ''))
  return request<ExportJob>('POST', '/api/exports', body)
}
/** The current state of an export job. */
export const exportJobStatus = (job: ExportJob) => request<ExportJob>('GET', job.status_url)
