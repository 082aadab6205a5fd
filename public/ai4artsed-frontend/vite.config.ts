/// <reference types="vitest/config" />
/**
 * Vite build, dev server and Vitest settings for the student web app.
 *
 * p5.js is not bundled into the app: code outputs run in a sandboxed iframe that loads the library
 * from `/vendor/p5.min.js`, a file this config copies out of `node_modules` at build time (and serves
 * in dev), so sketches run without any network access and the student page's bundle stays small.
 */
import { createReadStream, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { defineConfig, type Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'

const P5_PUBLIC_PATH = 'vendor/p5.min.js'

/** Copy the offline p5.js library into the build output and serve it in dev. */
function p5Vendor(): Plugin {
  const source = createRequire(import.meta.url).resolve('p5/lib/p5.min.js')
  return {
    name: 'ai4artsed-p5-vendor',
    configureServer(server) {
      server.middlewares.use(`/${P5_PUBLIC_PATH}`, (_req, res) => {
        res.setHeader('Content-Type', 'text/javascript; charset=utf-8')
        createReadStream(source).pipe(res)
      })
    },
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: P5_PUBLIC_PATH, source: readFileSync(source) })
    },
  }
}

export default defineConfig({
  base: '/',
  plugins: [vue(), p5Vendor()],
  define: {
    // Only the Composition API is used; dropping the legacy API keeps the bundle smaller.
    __VUE_I18N_LEGACY_API__: false,
    __VUE_I18N_FULL_INSTALL__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
    __VUE_PROD_DEVTOOLS__: false,
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:17801', '/favicon.svg': 'http://127.0.0.1:17801' },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    reportCompressedSize: true,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.spec.ts'],
    testTimeout: 10_000,
  },
})
