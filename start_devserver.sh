#!/usr/bin/env bash
# Set up everything (idempotent) and serve DevServer with the embedded defaults on HOST:PORT
# (127.0.0.1:17801 unless configured). Nothing external is needed.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh runtime
scripts/build_frontend.sh
.venv/bin/python -m devserver.schemas validate
exec .venv/bin/python -m devserver.server
