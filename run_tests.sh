#!/usr/bin/env bash
# Set up everything the tests need (idempotent) and run every test suite. Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh dev
.venv/bin/python -m devserver.schemas validate
.venv/bin/python -m pytest "$@"
