#!/usr/bin/env bash
# The main job in one command on a fresh Debian/Ubuntu machine with Go installed:
#   bash scripts/run.sh [CONFIG] [pipeline run flags...]      (CONFIG defaults to configs/gpt-small.yaml)
# Installs what is missing (scripts/setup.sh), makes data/corpus hold the reference corpora
# (scripts/get-data.sh keeps files whose checksums match and fetches or rebuilds the rest), builds
# bin/pipeline, then runs the config. Run it again to resume after an interruption: finished stages are
# skipped and an interrupted one continues from its last checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-configs/gpt-small.yaml}
shift || true
bash scripts/setup.sh
bash scripts/get-data.sh # keeps corpora whose checksums match, fetches or rebuilds the rest
go build -o bin/pipeline .
exec bin/pipeline run "$config" "$@"
