/**
 * The storyboard page against a loopback fake API: "Animate this scene" sends the scene's own picture
 * and prompt to the image → video output and opens the new run; without such an output it is not offered.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { setApiBase } from '../services/api'
import type { RunOutput } from '../services/types'
import { output, snapshot } from '../test/fixtures'
import { startFakeApi, until, type FakeApi } from '../test/fakeApi'
import { mountApp } from '../test/mountApp'
import App from '../App.vue'

const RUN = '0b0c3a52-2f35-4a43-9d4b-1b0e0f3f6a11'
let api: FakeApi | null = null
afterEach(async () => {
  setApiBase(null)
  await api?.close()
  api = null
})

function drawn(index: number, scene: string): RunOutput {
  return { index, output_config: 'sd35_large', media_type: 'image', status: 'succeeded', prompt: `prompt ${scene}`,
    negative_prompt: '', seed: 7 + index, url: `/api/media/image/${RUN}/${index}`, mime: 'image/png', progress: null,
    queue_position: null, error: null, block: null, file: `0${index + 5}_output_image.png`, scene }
}

const board = snapshot({
  run_id: RUN, status: 'succeeded', phase: 'storyboard_generation', schema: 'storyboard_comic',
  outputs: [drawn(0, 's1'), drawn(1, 's2')],
  storyboard: { title: 'The cat and the moon', logline: 'A cat flies.', output_config: 'sd35_large', scenes: [
    { id: 's1', description: 'A cat looks at the moon', generation_prompt: 'grey cat, full moon', status: 'ready',
      block: null, output: 0, edited: false },
    { id: 's2', description: 'The cat builds a rocket', generation_prompt: 'cat, cardboard rocket', status: 'ready',
      block: null, output: 1, edited: false },
  ] },
})

async function openBoard(outputs: ReturnType<typeof output>[]) {
  api = await startFakeApi({
    [`GET /api/pipeline/${RUN}/status`]: () => ({ json: board }),
    'GET /api/configs/outputs': () => ({ json: { outputs } }),
    'POST /api/schema/pipeline/generation': () => ({ status: 202, json: { run_id: 'video-run', status: 'queued' } }),
  })
  setApiBase(api.url)
  const mounted = mountApp(App, { lang: 'en' })
  await mounted.router.push(`/storyboard/${RUN}`)
  await until(() => mounted.wrapper.find('[data-testid="scene-2"] img').exists(), 3000, 'the drawn scenes')
  return mounted
}

describe('StoryboardView', () => {
  it('animates one scene from its own picture and opens the new run', async () => {
    const { wrapper, router } = await openBoard([output({ id: 'sd35_large' }),
      output({ id: 'ltx_image_to_video', media_type: 'video', backend: 'comfyui', takes_image: true })])
    await until(() => wrapper.find('[data-testid="scene-2"] [data-testid="scene-animate"]').exists(), 3000, 'the button')
    await wrapper.find('[data-testid="scene-2"] [data-testid="scene-animate"]').trigger('click')
    await until(() => router.currentRoute.value.path === '/runs/video-run', 3000, 'the new run')
    const sent = api!.requests.find((r) => r.method === 'POST' && r.path === '/api/schema/pipeline/generation')
    expect(sent?.body).toMatchObject({ output_configs: ['ltx_image_to_video'], input_image: `${RUN}/06_output_image.png`,
      prompt: 'cat, cardboard rocket' })
  })

  it('offers no animation when no image → video output can run', async () => {
    const { wrapper } = await openBoard([output({ id: 'sd35_large' }),
      output({ id: 'ltx_image_to_video', media_type: 'video', takes_image: true, available: false })])
    await until(() => wrapper.find('[data-testid="storyboard-output"] option').exists(), 3000, 'the output list')
    expect(wrapper.find('[data-testid="scene-animate"]').exists()).toBe(false)
  })
})
