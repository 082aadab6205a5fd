import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { setApiBase } from '../services/api'
import { startFakeApi, until, type FakeApi } from '../test/fakeApi'
import { mountApp } from '../test/mountApp'
import MediaPanel from './MediaPanel.vue'

const SKETCH = 'function setup() { createCanvas(200, 200) }\nfunction draw() { ellipse(50, 50, 80, 80) } // </script> in a comment'

let api: FakeApi
beforeEach(async () => {
  api = await startFakeApi({
    'GET /api/media/code/run-1/2': () => ({ text: SKETCH }),
    'GET /api/media/text/run-1/3': () => ({ text: 'Once upon a time' }),
  })
  setApiBase(api.url)
})
afterEach(async () => {
  setApiBase(null)
  await api.close()
})

function mountMedia(mediaType: string, index: number) {
  const url = `/api/media/${mediaType}/run-1/${index}`
  return mountApp(MediaPanel, { props: { mediaType, url, index, description: 'a red house' }, lang: 'en' }).wrapper
}

describe('MediaPanel', () => {
  it.each([
    ['image', 'IMG'],
    ['audio', 'AUDIO'],
    ['music', 'AUDIO'],
    ['video', 'VIDEO'],
  ])('shows %s media in a <%s> element from the media URL with a download link', (mediaType, tag) => {
    const wrapper = mountMedia(mediaType, 0)
    const media = wrapper.find('[data-testid="output-media-0"]')
    expect(media.element.tagName).toBe(tag)
    expect(media.attributes('src')).toBe(`${api.url}/api/media/${mediaType}/run-1/0`)
    if (tag !== 'IMG') expect(media.attributes('controls')).toBeDefined()
    else expect(media.attributes('alt')).toBe('a red house')
    expect(wrapper.find('a[download]').attributes('href')).toBe(`${api.url}/api/media/${mediaType}/run-1/0`)
  })

  it('shows generated code and runs it in a scripts-only sandbox with the offline p5.js', async () => {
    const wrapper = mountMedia('code', 2)
    await until(() => wrapper.find('[data-testid="sketch-code"]').exists(), 3000, 'the sketch code')
    expect(wrapper.find('[data-testid="sketch-code"]').text()).toBe(SKETCH)
    const frame = wrapper.find('[data-testid="sketch-frame"]')
    expect(frame.attributes('sandbox')).toBe('allow-scripts')
    const srcdoc = frame.attributes('srcdoc')!
    expect(srcdoc).toMatch(new RegExp(`<script nonce="[0-9a-f]{32}" src="${api.url}/vendor/p5.min.js"></script>`))
    expect(srcdoc).toContain('function setup()')
    // The code's own "</script>" must not end the script element early.
    expect(srcdoc.match(/<\/script>/g)).toHaveLength(3)
  })

  it('gives the sketch a Content-Security-Policy: only the local p5 file and its own scripts, data/blob images', async () => {
    const wrapper = mountMedia('code', 2)
    await until(() => wrapper.find('[data-testid="sketch-frame"]').exists(), 3000, 'the sketch frame')
    const doc = new DOMParser().parseFromString(wrapper.find('[data-testid="sketch-frame"]').attributes('srcdoc')!, 'text/html')
    const metas = doc.head.querySelectorAll('meta[http-equiv="Content-Security-Policy"]')
    expect(metas).toHaveLength(1)
    // The policy must come before any script, or the browser runs those scripts unprotected.
    expect(doc.head.firstElementChild?.nextElementSibling).toBe(metas[0])
    const directives = Object.fromEntries(metas[0].getAttribute('content')!.split(';').map((d) => {
      const [name, ...values] = d.trim().split(/\s+/)
      return [name, values]
    }))
    expect(directives['default-src']).toEqual(["'none'"])
    expect(directives['img-src']).toEqual(['data:', 'blob:'])
    const nonce = directives['script-src'].find((v: string) => v.startsWith("'nonce-"))!.slice(7, -1)
    expect(directives['script-src']).toEqual([`'nonce-${nonce}'`, `${api.url}/vendor/p5.min.js`])
    expect(directives['connect-src']).toBeUndefined() // falls back to default-src 'none': no fetch, no XHR
    // Every script of the document carries the nonce, so none of them is refused.
    const scripts = Array.from(doc.querySelectorAll('script'))
    expect(scripts).toHaveLength(3)
    expect(scripts.every((s) => s.getAttribute('nonce') === nonce)).toBe(true)
  })

  it('shows generated text as text', async () => {
    const wrapper = mountMedia('text', 3)
    await until(() => wrapper.text().includes('Once upon a time'), 3000, 'the text')
    expect(wrapper.find('[data-testid="output-media-3"] blockquote').text()).toBe('Once upon a time')
  })

  it('offers a download for a media type it has no player for', () => {
    const wrapper = mountMedia('hologram', 4)
    expect(wrapper.find('[data-testid="output-media-4"]').text()).toContain('hologram')
    expect(wrapper.find('a[download]').exists()).toBe(true)
  })
})
