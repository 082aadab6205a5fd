/** The storyboard's requests: start one, save the edited scenes, draw every scene, animate one, download. */
import { request, resolveUrl } from './api'
import type { Lang, RunAccepted } from './types'

export interface StoryboardStart {
  schema: string
  input_text: string
  context_prompt: string
  safety_level?: string
  lang: Lang
}

/** One scene of the edited list: an existing scene by id (texts left out = unchanged) or a new one. */
export interface SceneEdit {
  id?: string
  description?: string
  generation_prompt?: string
}

/** Start Stage 1 and the brief (title, logline, 4–8 scenes) of a storyboard attitude. */
export function startStoryboard(body: StoryboardStart): Promise<RunAccepted> {
  return request('POST', '/api/schema/pipeline/storyboard', body)
}

/** Save the scene list in its new order; the server checks every changed text. */
export function saveScenes(runId: string, scenes: SceneEdit[], lang: Lang): Promise<RunAccepted> {
  return request('PUT', `/api/pipeline/${encodeURIComponent(runId)}/scenes`, { scenes, lang })
}

/** Draw every scene with one output (Stage 3 and 4 per scene). */
export function drawScenes(runId: string, outputConfig: string, lang: Lang, seed?: number): Promise<RunAccepted> {
  return request('POST', '/api/schema/pipeline/storyboard_generation', {
    run_id: runId, output_config: outputConfig, lang, ...(seed === undefined ? {} : { seed }),
  })
}

/** Start a new run that animates one scene picture (`<run_id>/<file>`) with an image → video output. */
export function animateScene(image: string, prompt: string, outputConfig: string, lang: Lang): Promise<RunAccepted> {
  return request('POST', '/api/schema/pipeline/generation', {
    output_configs: [outputConfig], prompt, input_image: image, lang,
  })
}

/** Address of the printable sheet (PDF) or of every picture as a ZIP. */
export function sheetUrl(runId: string, kind: 'pdf' | 'zip', lang: Lang): string {
  return resolveUrl(`/api/runs/${encodeURIComponent(runId)}/storyboard.${kind}?lang=${lang}`)
}
