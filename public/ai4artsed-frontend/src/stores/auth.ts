/** Who this browser is for the server: a teacher's login or a student's workshop pass. */
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { getMe, login as apiLogin, logout as apiLogout } from '../services/teacherApi'
import type { Me } from '../services/teacherTypes'

export const useAuthStore = defineStore('auth', () => {
  const me = ref<Me | null>(null)
  const isTeacher = computed(() => me.value?.role === 'teacher' || me.value?.role === 'admin')
  const isStaff = computed(() => isTeacher.value || me.value?.role === 'researcher')

  /** Ask the server who we are (once per page view unless forced). */
  async function refresh(force = false): Promise<Me> {
    if (!me.value || force) me.value = await getMe()
    return me.value
  }

  /** Log in and remember who we are now. */
  async function login(name: string, password: string): Promise<void> {
    await apiLogin(name, password)
    await refresh(true)
  }

  /** Log out and forget the login. */
  async function logout(): Promise<void> {
    await apiLogout()
    await refresh(true)
  }

  return { me, isTeacher, isStaff, refresh, login, logout }
})
