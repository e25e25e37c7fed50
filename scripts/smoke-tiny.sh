#!/usr/bin/env bash
# End-to-end smoke test (run by CI): configs/tiny.yaml from scratch, then the checks a user would make.
#   1. the whole pipeline runs and the eval report has a row per target;
#   2. a second run skips every stage;
#   3. SIGKILL during pretrain, run again: finished stages are skipped, pretrain resumes from its last
#      checkpoint, and its weights equal the uninterrupted run's byte for byte.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -s data/corpus/kjv.txt ] || bash scripts/get-data.sh
go build -o bin/pipeline .
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say() { printf 'smoke: %s\n' "$*"; }

start=$(date +%s)
bin/pipeline run configs/tiny.yaml --set "out_dir=$work/a" | tee "$work/first.log"
say "tiny pipeline finished in $(( $(date +%s) - start )) s"
report=$work/a/tiny/eval/report.json
# The report's "checkpoints" list, without needing a JSON tool on the machine.
rows=$(sed -n '/"checkpoints": \[/,/\]/p' "$report" | grep -o '"[a-z0-9_.-]*"' | grep -v '"checkpoints"' | tr -d '"' | xargs)
[ "$rows" = "pretrain sft dpo ppo" ] || { say "report rows are '$rows', want 'pretrain sft dpo ppo'"; exit 1; }
[ -s "$work/a/tiny/eval/report.md" ] && [ -s "$work/a/tiny/eval/report.png" ] || { say "report.md or report.png missing"; exit 1; }
sed -n '/^|/p' "$work/a/tiny/eval/report.md" | head -8

bin/pipeline run configs/tiny.yaml --set "out_dir=$work/a" > "$work/second.log"
if grep -v 'done, skipped' "$work/second.log" | grep -q .; then say "second run did work:"; cat "$work/second.log"; exit 1; fi
say "second run skipped every stage"

# Kill pretrain with SIGKILL once it has a step checkpoint, then resume.
long=(--set stages.pretrain.max_steps=120 --set stages.pretrain.checkpoint_every=10)
bin/pipeline run configs/tiny.yaml --only bpe --set "out_dir=$work/b" "${long[@]}" >/dev/null
bin/pipeline run configs/tiny.yaml --set "out_dir=$work/b" "${long[@]}" > "$work/killed.log" 2>&1 &
pid=$!
until ls "$work"/b/tiny/pretrain.partial/steps/000000[2-9]0 >/dev/null 2>&1; do
  kill -0 $pid 2>/dev/null || { say "pretrain ended before it could be killed"; cat "$work/killed.log"; exit 1; }
  sleep 0.2
done
kill -9 $pid; wait $pid 2>/dev/null || true
say "killed during pretrain; pipeline status says:"
bin/pipeline status configs/tiny.yaml --set "out_dir=$work/b" "${long[@]}"
bin/pipeline status configs/tiny.yaml --set "out_dir=$work/b" "${long[@]}" | grep -q '^pretrain .*partial (step [0-9]* of 120)' ||
  { say "status does not show pretrain as partial"; exit 1; }
bin/pipeline run configs/tiny.yaml --set "out_dir=$work/b" "${long[@]}" --only pretrain | tee "$work/resumed.log"
grep -q 'resuming' "$work/resumed.log" || { say "pretrain did not resume"; exit 1; }
bin/pipeline run configs/tiny.yaml --set "out_dir=$work/c" "${long[@]}" --only bpe >/dev/null
bin/pipeline run configs/tiny.yaml --set "out_dir=$work/c" "${long[@]}" --only tasks >/dev/null
bin/pipeline run configs/tiny.yaml --set "out_dir=$work/c" "${long[@]}" --only pretrain >/dev/null
cmp "$work/b/tiny/pretrain/model.safetensors" "$work/c/tiny/pretrain/model.safetensors"
say "resumed pretrain equals the uninterrupted run byte for byte"
say "ok"
