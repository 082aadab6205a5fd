/** Routes: the student page is in the main bundle; the run pages load on demand. */
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import StudentView from '../views/StudentView.vue'

export const routes: RouteRecordRaw[] = [
  { path: '/', name: 'student', component: StudentView },
  { path: '/runs', name: 'runs', component: () => import('../views/RunListView.vue') },
  { path: '/runs/:id', name: 'journey', component: () => import('../views/RunJourneyView.vue') },
]

/** Create the router with HTML5 history (Flask falls back to index.html for these paths). */
export function createAppRouter() {
  return createRouter({ history: createWebHistory(import.meta.env.BASE_URL), routes })
}
