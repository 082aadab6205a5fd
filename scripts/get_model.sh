#!/usr/bin/env bash
# Download a better offline instruct model (GGUF) for the embedded backend and verify it by its sha256.
#
# Usage: scripts/get_model.sh [--dest <folder>]                      the recommended model (pinned below)
#        scripts/get_model.sh --url <url> --sha256 <hash> [--dest <folder>]   any other GGUF
#   Recommended: Qwen2.5-1.5B-Instruct, Q4_K_M (1,117,320,736 bytes, Apache-2.0), from its publisher's
#   own repository (Qwen/Qwen2.5-1.5B-Instruct-GGUF on Hugging Face) at a fixed revision. Nothing that
#   fails the hash is kept. Then set LOCAL_MODEL_PATH in .env to the printed path and restart the server.
set -euo pipefail
cd "$(dirname "$0")/.."
# The pinned hash is the Git LFS sha256 Hugging Face shows for this file. It could not be downloaded and
# checked from the machine this was written on (no access to Hugging Face); it was taken from public
# sources that state it for exactly this file and agree with each other: pinned download scripts and
# model registries of several independent projects on GitHub (one of them citing the file page of
# revision a615a81… with the same hash), all giving 6a1a2eb6…9407e and 1,117,320,736 bytes, and three
# of them the revision 91cad511… used here. A mismatch stops the script and deletes the download.
revision="91cad51170dc346986eccefdc2dd33a9da36ead9"
url="https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF/resolve/$revision/qwen2.5-1.5b-instruct-q4_k_m.gguf"
pinned="6a1a2eb6d15622bf3c96857206351ba97e1af16c30d7a74ee38970e434e9407e"
dest="models"
sha=""
custom_url=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sha256) sha="${2:-}"; shift 2 ;;
    --url) custom_url="${2:-}"; shift 2 ;;
    --dest) dest="${2:-}"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -n "$custom_url" ]; then
  url="$custom_url"
  [ -n "$sha" ] || { echo "another --url needs its published SHA256: --sha256 <64 hex digits>" >&2; exit 2; }
elif [ -z "$sha" ]; then
  sha="$pinned"
fi
if ! [[ "$sha" =~ ^[0-9a-fA-F]{64}$ ]]; then
  echo "--sha256 must be 64 hex digits (see --help)" >&2
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
