#!/usr/bin/env bash
# End-to-end smoke test (run by CI): configs/tiny.yaml from scratch, then the checks a user would make.
#   1. the whole pipeline runs and the eval report has a row per target;
#   2. a second run skips every stage;
#   3. SIGKILL during pretrain, run again: finished stages are skipped, pretrain resumes from its last
#      checkpoint, and its weights equal the uninterrupted run's byte for byte (scripts/check-resume.sh).
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

bash scripts/check-resume.sh configs/tiny.yaml
say "ok"
