#!/usr/bin/env bash
# Build the Vue app into public/ai4artsed-frontend/dist when it is missing or older than its sources.
set -euo pipefail
cd "$(dirname "$0")/../public/ai4artsed-frontend"
[ -f package.json ] || { echo "[frontend] no package.json: skipping"; exit 0; }
if ! command -v npm >/dev/null 2>&1; then
  echo "[frontend] npm is missing: install Node.js 20+ (apt-get install nodejs npm)" >&2
  exit 1
fi
# Install when the lock file's content changed since the last install (not its date: a fresh checkout
# or a git worktree sharing node_modules has a newer lock file with the same content).
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ "$(cat node_modules/.devserver-lock 2>/dev/null)" != "$lock_sum" ]; then
  echo "[frontend] npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.devserver-lock
fi
newest_src=$(find src index.html package.json vite.config.ts -type f -newer dist/index.html 2>/dev/null | head -1 || true)
if [ ! -f dist/index.html ] || [ -n "$newest_src" ]; then
  echo "[frontend] building"
  npm run build --silent
fi
