#!/usr/bin/env bash
# Set up everything the tests need (idempotent) and run every test suite. Exits non-zero on any failure.
#   ./run_tests.sh              everything: schema check, Vitest, build, pytest (unit, integration, e2e)
#   ./run_tests.sh tests/unit   extra arguments go to pytest (the frontend suites still run)
set -euo pipefail
cd "$(dirname "$0")"
trap 'echo "== run_tests.sh took $((SECONDS / 60)) min $((SECONDS % 60)) s"' EXIT
scripts/setup.sh dev
scripts/install_chromium.sh
scripts/build_frontend.sh

echo "== schema files"
.venv/bin/python -m devserver.schemas validate
echo "== frontend unit tests (Vitest)"
(cd public/ai4artsed-frontend && npm test --silent)
echo "== python tests (pytest)"
.venv/bin/python -m pytest "$@"
