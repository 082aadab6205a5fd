import { describe, expect, it } from 'vitest'
import { createAppI18n } from '../i18n'
import { mountApp } from '../test/mountApp'
import AppHeader from './AppHeader.vue'

describe('AppHeader', () => {
  it('switches the language, and the choice survives a reload', async () => {
    window.localStorage.clear()
    const { wrapper } = mountApp(AppHeader, { lang: 'de' })
    expect(wrapper.text()).toContain('Meine Durchläufe')
    await wrapper.find('[data-testid="lang-switch"]').setValue('en')
    expect(wrapper.text()).toContain('My runs')
    expect(document.documentElement.lang).toBe('en')
    expect(window.localStorage.getItem('ai4artsed.lang')).toBe('en')
    expect(createAppI18n().global.locale.value).toBe('en')
    window.localStorage.clear()
  })

  it('starts in German when nothing was chosen', () => {
    window.localStorage.clear()
    expect(createAppI18n().global.locale.value).toBe('de')
  })
})
