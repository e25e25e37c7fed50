#!/usr/bin/env bash
# The main job in one command on a fresh Debian/Ubuntu machine with Go installed:
#   bash scripts/run.sh [CONFIG] [pipeline run flags...]      (CONFIG defaults to configs/gpt-small.yaml)
# Installs what is missing (scripts/setup.sh), fetches the corpora when data/corpus lacks them
# (scripts/get-data.sh), builds bin/pipeline, then runs the config. Run it again to resume after an
# interruption: finished stages are skipped and an interrupted one continues from its last checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-configs/gpt-small.yaml}
shift || true
bash scripts/setup.sh
if [ ! -s data/corpus/kjv.txt ] || [ ! -s data/corpus/fortunes.txt ]; then
  bash scripts/get-data.sh
fi
go build -o bin/pipeline .
exec bin/pipeline run "$config" "$@"
