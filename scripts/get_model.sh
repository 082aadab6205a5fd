#!/usr/bin/env bash
# Download a better offline instruct model (GGUF) for the embedded backend and verify it by its sha256.
#
# Usage: scripts/get_model.sh --sha256 <hash> [--url <url>] [--dest <folder>]
#   default url: Qwen2.5-1.5B-Instruct, Q4_K_M (~1 GB), from its publisher's own repository (Qwen on
#   Hugging Face, Apache-2.0). No hash is pinned here because none could be checked when this was
#   written: copy the SHA256 shown on the file's page (the "LFS" details) yourself. Nothing unverified
#   is kept. Then set LOCAL_MODEL_PATH in .env to the printed path and restart the server.
set -euo pipefail
cd "$(dirname "$0")/.."
url="https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF/resolve/main/qwen2.5-1.5b-instruct-q4_k_m.gguf"
dest="models"
sha=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sha256) sha="${2:-}"; shift 2 ;;
    --url) url="${2:-}"; shift 2 ;;
    --dest) dest="${2:-}"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if ! [[ "$sha" =~ ^[0-9a-fA-F]{64}$ ]]; then
  echo "give the file's published SHA256 with --sha256 <64 hex digits> (see --help)" >&2
  exit 2
fi
name="$(basename "${url%%\?*}")"
mkdir -p "$dest"
target="$dest/$name"
if [ -f "$target" ] && echo "${sha,,}  $target" | sha256sum --check --status; then
  echo "already here and verified: $target"
else
  echo "downloading $url"
  curl --fail --location --retry 3 --continue-at - --output "$target.part" "$url"
  if ! echo "${sha,,}  $target.part" | sha256sum --check --status; then
    echo "sha256 mismatch: $target.part is not the file you named; it was deleted" >&2
    rm -f "$target.part"
    exit 1
  fi
  mv "$target.part" "$target"
fi
echo "verified. Put this line into .env and restart: LOCAL_MODEL_PATH=$(cd "$dest" && pwd)/$name"
