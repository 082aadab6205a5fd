import { describe, expect, it } from 'vitest'
import { attitude } from '../test/fixtures'
import { mountApp } from '../test/mountApp'
import AttitudePicker from './AttitudePicker.vue'

const configs = [
  attitude({ id: 'dada', name: 'Dada', category: 'Art movements' }),
  attitude({ id: 'haiku', name: 'Haiku', category: 'Poetry' }),
  attitude({ id: 'bauhaus', name: 'Bauhaus', category: 'Art movements' }),
  attitude({ id: 'noir', name: 'Film noir', category: 'Film', audience: { min_age: 16 } }),
  attitude({ id: 'own', name: 'Own rules', category: 'Art movements', user_defined: true }),
]

function groupTitles(wrapper: ReturnType<typeof mountApp>['wrapper']) {
  return wrapper.findAll('[data-testid="attitude-group"]').map((g) => ({
    title: g.find('h3').text(),
    ids: g.findAll('button').map((b) => b.attributes('data-testid')),
  }))
}

describe('AttitudePicker', () => {
  it('groups configs by category in API order and puts own rules last', () => {
    const { wrapper } = mountApp(AttitudePicker, { props: { configs, age: null, modelValue: null } })
    expect(groupTitles(wrapper)).toEqual([
      { title: 'Art movements', ids: ['attitude-dada', 'attitude-bauhaus'] },
      { title: 'Poetry', ids: ['attitude-haiku'] },
      { title: 'Film', ids: ['attitude-noir'] },
      { title: 'Your own rules', ids: ['attitude-own'] },
    ])
  })

  it('hides configs above the workshop age only when the age is known', () => {
    const young = mountApp(AttitudePicker, { props: { configs, age: 12, modelValue: null } }).wrapper
    expect(young.find('[data-testid="attitude-noir"]').exists()).toBe(false)
    expect(young.find('[data-testid="attitude-dada"]').exists()).toBe(true)
    const older = mountApp(AttitudePicker, { props: { configs, age: 16, modelValue: null } }).wrapper
    expect(older.find('[data-testid="attitude-noir"]').exists()).toBe(true)
  })

  it('selects a config with a keyboard-operable button and marks it pressed', async () => {
    const { wrapper } = mountApp(AttitudePicker, {
      props: { configs, age: null, modelValue: 'dada', 'onUpdate:modelValue': (id: string) => wrapper.setProps({ modelValue: id }) },
    })
    const haiku = wrapper.find('[data-testid="attitude-haiku"]')
    expect(haiku.element.tagName).toBe('BUTTON')
    expect(haiku.attributes('aria-pressed')).toBe('false')
    await haiku.trigger('click')
    expect(wrapper.emitted('update:modelValue')).toEqual([['haiku']])
    expect(wrapper.find('[data-testid="attitude-haiku"]').attributes('aria-pressed')).toBe('true')
    expect(wrapper.find('[data-testid="attitude-dada"]').attributes('aria-pressed')).toBe('false')
  })

  it('shows icon, name, description and the number of rounds of a recursive config', () => {
    const recursive = attitude({
      id: 'stille_post', name: 'Stille Post', description: 'Whispers through languages',
      pipeline_type: 'recursive_interception', iterations: 4, display: { icon: '📞', color: '#0ea5e9', order: 1 },
    })
    const { wrapper } = mountApp(AttitudePicker, { props: { configs: [recursive], age: null, modelValue: null } })
    const card = wrapper.find('[data-testid="attitude-stille_post"]')
    expect(card.text()).toContain('📞')
    expect(card.text()).toContain('Stille Post')
    expect(card.text()).toContain('Whispers through languages')
    expect(card.text()).toContain('4 rounds')
  })
})
