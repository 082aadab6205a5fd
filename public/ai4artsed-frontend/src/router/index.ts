/** Routes: the student page is in the main bundle; the run, join and teacher pages load on demand. */
import { createRouter, createWebHistory, type RouteLocationNormalized, type RouteRecordRaw } from 'vue-router'
import { useAuthStore } from '../stores/auth'
import StudentView from '../views/StudentView.vue'

export const routes: RouteRecordRaw[] = [
  { path: '/', name: 'student', component: StudentView },
  { path: '/runs', name: 'runs', component: () => import('../views/RunListView.vue') },
  { path: '/runs/:id', name: 'journey', component: () => import('../views/RunJourneyView.vue') },
  { path: '/storyboard/:id', name: 'storyboard', component: () => import('../views/StoryboardView.vue') },
  { path: '/join/:code?', name: 'join', component: () => import('../views/JoinView.vue') },
  { path: '/login', name: 'login', component: () => import('../views/LoginView.vue') },
  { path: '/teacher', name: 'teacher', component: () => import('../views/teacher/TeacherView.vue'), meta: { teacher: true } },
  { path: '/teacher/configs', name: 'configs', component: () => import('../views/teacher/ConfigEditorView.vue'), meta: { teacher: true } },
  { path: '/teacher/sessions/:id', name: 'moderation', component: () => import('../views/teacher/ModerationView.vue'), meta: { teacher: true } },
  { path: '/research', name: 'research', component: () => import('../views/research/ResearchView.vue'), meta: { staff: true } },
  { path: '/research/runs/:id', name: 'research-run', component: () => import('../views/research/ResearchRunView.vue'), meta: { staff: true } },
]

/** Create the router with HTML5 history (Flask falls back to index.html for these paths). */
export function createAppRouter() {
  const router = createRouter({ history: createWebHistory(import.meta.env.BASE_URL), routes })
  router.beforeEach(teacherGuard)
  return router
}

/** Send a browser without a teacher (or, for the research pages, staff) login to the login page (the server checks too). */
async function teacherGuard(to: RouteLocationNormalized) {
  if (!to.meta.teacher && !to.meta.staff) return true
  try {
    const auth = useAuthStore()
    if ((await auth.refresh(true)) && (to.meta.teacher ? auth.isTeacher : auth.isStaff)) return true
  } catch {
    // the server could not be asked: the login page says what is wrong
  }
  return { path: '/login', query: { next: to.fullPath } }
}
