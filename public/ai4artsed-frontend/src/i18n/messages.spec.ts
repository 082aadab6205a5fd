// @vitest-environment node
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, vi } from 'vitest'
import { createAppI18n } from './index'
import de from './de.json'
import en from './en.json'

type Messages = { [key: string]: string | Messages }

function flatten(messages: Messages, prefix = ''): Map<string, string> {
  const out = new Map<string, string>()
  for (const [key, value] of Object.entries(messages)) {
    const path = prefix ? `${prefix}.${key}` : key
    if (typeof value === 'string') out.set(path, value)
    else for (const [k, v] of flatten(value, path)) out.set(k, v)
  }
  return out
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return /\.(vue|ts)$/.test(name) && !name.endsWith('.spec.ts') ? [path] : []
  })
}

const german = flatten(de)
const english = flatten(en)
const src = fileURLToPath(new URL('..', import.meta.url))

describe('UI messages', () => {
  it('have the same keys in German and English', () => {
    const onlyGerman = [...german.keys()].filter((k) => !english.has(k))
    const onlyEnglish = [...english.keys()].filter((k) => !german.has(k))
    expect({ onlyGerman, onlyEnglish }).toEqual({ onlyGerman: [], onlyEnglish: [] })
  })

  it('have no empty texts and the same placeholders in both languages', () => {
    const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()
    for (const [key, text] of german) {
      expect(text.trim(), key).not.toBe('')
      expect(english.get(key)?.trim(), key).not.toBe('')
      expect(placeholders(english.get(key) ?? ''), key).toEqual(placeholders(text))
    }
  })

  it('contain every key the source code asks for', () => {
    const used = new Set<string>()
    for (const file of sourceFiles(src)) {
      for (const match of readFileSync(file, 'utf8').matchAll(/\bt\('([\w.]+)'/g)) used.add(match[1])
    }
    expect(used.size).toBeGreaterThan(50)
    expect([...used].filter((key) => !german.has(key) || !english.has(key))).toEqual([])
  })

  it('compile and render in both languages with their placeholders filled', () => {
    const problems = vi.spyOn(console, 'warn')
    const errors = vi.spyOn(console, 'error')
    for (const lang of ['de', 'en'] as const) {
      const { t } = createAppI18n(lang).global
      for (const [key, text] of lang === 'de' ? german : english) {
        const params = Object.fromEntries([...text.matchAll(/\{(\w+)\}/g)].map((m) => [m[1], 7]))
        const rendered = t(key, params)
        expect(rendered, key).not.toBe(key)
        expect(rendered, key).not.toMatch(/[{}]/)
      }
    }
    expect(problems).not.toHaveBeenCalled()
    expect(errors).not.toHaveBeenCalled()
  })
})
