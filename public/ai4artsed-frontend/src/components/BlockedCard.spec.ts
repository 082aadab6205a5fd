import { describe, expect, it } from 'vitest'
import { mountApp } from '../test/mountApp'
import type { Block } from '../services/types'
import BlockedCard from './BlockedCard.vue'

const block: Block = {
  stage: 'stage1',
  checkpoint: 'input',
  category: 'p86a',
  message: {
    de: { title: 'Hier stoppen wir', what: 'Dein Text enthält ein verbotenes Symbol.', why: 'Das Gesetz schützt alle.', try_instead: 'Male eine Landschaft.' },
    en: { title: 'We stop here', what: 'Your text contains a forbidden symbol.', why: 'The law protects everyone.', try_instead: 'Paint a landscape.' },
  },
}

describe('BlockedCard', () => {
  it('shows title, what, why and try-instead in the UI language', () => {
    const { wrapper } = mountApp(BlockedCard, { props: { block }, lang: 'en' })
    const text = wrapper.find('[data-testid="blocked-card"]').text()
    for (const part of Object.values(block.message.en!)) expect(text).toContain(part)
    expect(text).toContain('Why is there this rule?')
    expect(text).not.toContain('Hier stoppen wir')
  })

  it('follows a language switch', async () => {
    const { wrapper, i18n } = mountApp(BlockedCard, { props: { block }, lang: 'en' })
    i18n.global.locale.value = 'de'
    await wrapper.vm.$nextTick()
    expect(wrapper.text()).toContain('Hier stoppen wir')
    expect(wrapper.text()).toContain('Warum gibt es diese Regel?')
  })

  it('falls back to German when the server has no message in the UI language', () => {
    const germanOnly: Block = { ...block, message: { de: block.message.de } }
    const { wrapper } = mountApp(BlockedCard, { props: { block: germanOnly }, lang: 'en' })
    expect(wrapper.text()).toContain('Hier stoppen wir')
  })

  it('still explains a block that carries no message', () => {
    const { wrapper } = mountApp(BlockedCard, { props: { block: { ...block, message: {} } }, lang: 'en' })
    expect(wrapper.text()).toContain('Your text was stopped by the safety check.')
  })
})
