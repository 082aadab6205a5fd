/**
 * A real HTTP server on 127.0.0.1 (port 0) that answers like the DevServer API, for tests that
 * exercise the app's own HTTP client, SSE handling and polling without mocking them.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface FakeRequest {
  method: string
  path: string
  query: URLSearchParams
  body: unknown
  headers: IncomingHttpHeaders
}

export interface FakeReply {
  status?: number
  json?: unknown
  text?: string
}

/** A route handler: return a reply, or write to `res` yourself (SSE) and return nothing. */
export type FakeHandler = (req: FakeRequest, res: ServerResponse) => FakeReply | void | Promise<FakeReply | void>

export interface FakeApi {
  url: string
  requests: FakeRequest[]
  close: () => Promise<void>
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const raw = Buffer.concat(chunks).toString('utf8')
  return raw ? JSON.parse(raw) : null
}

/** Start a fake API whose routes are keyed "METHOD /path" (query string excluded). */
export async function startFakeApi(routes: Record<string, FakeHandler>): Promise<FakeApi> {
  const requests: FakeRequest[] = []
  const open = new Set<ServerResponse>()
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const request: FakeRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      body: await readBody(req),
      headers: req.headers,
    }
    requests.push(request)
    open.add(res)
    res.on('close', () => open.delete(res))
    const handler = routes[`${request.method} ${request.path}`]
    const reply = handler
      ? await handler(request, res)
      : { status: 404, json: { error: { code: 'not_found', message: 'No such route', details: {} } } }
    if (!reply) return
    if (reply.text !== undefined) {
      res.writeHead(reply.status ?? 200, { 'Content-Type': 'text/plain; charset=utf-8' })
      res.end(reply.text)
      return
    }
    res.writeHead(reply.status ?? 200, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify(reply.json ?? {}))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open) res.destroy()
        server.close(() => resolve())
      }),
  }
}

/** Write one server-sent event the way the DevServer does. */
export function writeEvent(res: ServerResponse, id: number, event: string, data: unknown): void {
  res.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
}

/** Wait until `check` passes or fail after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
