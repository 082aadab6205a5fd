/** Mount a component with the app's real plugins (i18n, Pinia, router) for component tests. */
import { mount, type ComponentMountingOptions } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import type { Component } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'
import { createAppI18n } from '../i18n'
import { routes } from '../router'
import type { Lang } from '../services/types'

/** Mount `component` in `lang` with fresh stores and an in-memory router. */
export function mountApp<C extends Component>(
  component: C,
  options: { props?: Record<string, unknown>; lang?: Lang; attachTo?: HTMLElement } = {},
) {
  const i18n = createAppI18n(options.lang ?? 'en')
  const pinia = createPinia()
  setActivePinia(pinia)
  const router = createRouter({ history: createMemoryHistory(), routes })
  const wrapper = mount(component, {
    props: options.props,
    attachTo: options.attachTo,
    global: { plugins: [i18n, pinia, router] },
  } as ComponentMountingOptions<C>)
  return { wrapper, i18n, pinia, router }
}
