#!/usr/bin/env bash
# Resume after SIGKILL, end to end, as a user meets it:
#   1. `pipeline run CONFIG --until pretrain` is killed with SIGKILL once pretrain has two step checkpoints;
#   2. `pipeline status` shows pretrain as partial;
#   3. the same command again: the stages before pretrain are skipped, pretrain resumes from its last
#      checkpoint and finishes;
#   4. the same command in a fresh output directory, never interrupted: its pretrain weights must equal
#      the resumed run's byte for byte.
# Pretrain is shortened to STEPS optimizer steps (default 120) with a checkpoint every EVERY (default 10),
# so that this takes minutes; everything is written under a temporary directory, removed at the end.
#   scripts/check-resume.sh [CONFIG]          (default configs/tiny.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-configs/tiny.yaml}
steps=${STEPS:-120}
every=${EVERY:-10}
[ -s data/corpus/kjv.txt ] || bash scripts/get-data.sh
go build -o bin/pipeline .
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say() { printf 'check-resume: %s\n' "$*"; }
short=(--set "stages.pretrain.max_steps=$steps" --set "stages.pretrain.checkpoint_every=$every")
run=$(sed -n 's/^run: *//p' "$config")

bin/pipeline run "$config" --until pretrain --set "out_dir=$work/b" "${short[@]}" > "$work/killed.log" 2>&1 &
pid=$!
until [ "$(ls "$work/b/$run/pretrain.partial/steps" 2>/dev/null | wc -l)" -ge 2 ]; do
  kill -0 $pid 2>/dev/null || { say "pretrain ended before it could be killed"; cat "$work/killed.log"; exit 1; }
  sleep 0.2
done
kill -9 $pid; wait $pid 2>/dev/null || true
say "killed during pretrain (SIGKILL); pipeline status says:"
bin/pipeline status "$config" --set "out_dir=$work/b" "${short[@]}" | tee "$work/status.log"
grep -q "^pretrain .*partial (step [0-9]* of $steps)" "$work/status.log" ||
  { say "status does not show pretrain as partial"; exit 1; }

say "the same command again:"
bin/pipeline run "$config" --until pretrain --set "out_dir=$work/b" "${short[@]}" | tee "$work/resumed.log"
grep -q '^pretrain .*resuming' "$work/resumed.log" || { say "pretrain did not resume"; exit 1; }
if grep -v '^\[' "$work/resumed.log" | grep -v '^pretrain ' | grep -v 'done, skipped' | grep -q .; then
  say "a stage before pretrain was not skipped"; exit 1
fi

bin/pipeline run "$config" --until pretrain --set "out_dir=$work/c" "${short[@]}" > "$work/uninterrupted.log" 2>&1
cmp "$work/b/$run/pretrain/model.safetensors" "$work/c/$run/pretrain/model.safetensors"
say "resumed pretrain equals the uninterrupted run byte for byte ($(sha256sum < "$work/c/$run/pretrain/model.safetensors" | cut -c1-16))"
