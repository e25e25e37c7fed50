#!/usr/bin/env bash
# Issue 6's table: full fine-tuning, LoRA, prefix and prompt tuning from one pretrained model with the same
# data and step budget (configs/methods.yaml), then one markdown row per method: held-out exact match per
# task (the eval stage, zero-shot, greedy), held-out SFT loss, trainable parameters, training tokens/s.
#   scripts/bench-methods.sh [out_dir]     (default: the config's, ../checkpoints)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -s data/corpus/kjv.txt ] || bash scripts/get-data.sh
go build -o bin/pipeline .
set_out=()
[ $# -gt 0 ] && set_out=(--set "out_dir=$(realpath "$1")")
bin/pipeline run configs/methods.yaml "${set_out[@]}"
run_dir=${1:-checkpoints}/methods
python3 - "$run_dir" <<'PY'
import json, statistics, sys
run = sys.argv[1]
report = json.load(open(f"{run}/eval/report.json"))
tasks = sorted(next(iter(report["scores"].values())))
def em(target, task):
    s = report["scores"][target][task]["0-shot"]
    return f'{s["acc"]:.2f} ({s["correct"]}/{s["n"]})'
print("| method | trainable params | fraction | " + " | ".join(f"{t} exact match" for t in tasks) +
      " | held-out SFT loss (init → after) | tokens/s (median step) | stage wall time |")
print("|---|---:|---:|" + "---:|" * len(tasks) + "---:|---:|---:|")
print("| pretrained (no fine-tuning) | – | – | " + " | ".join(em("pretrain", t) for t in tasks) + " | – | – | – |")
for target in report["checkpoints"]:
    if target == "pretrain":
        continue
    m = json.load(open(f"{run}/{target}/manifest.json"))
    s = m["summary"]
    tps = [r["tokens_per_s"] for r in map(json.loads, open(f"{run}/{target}/metrics.jsonl")) if "tokens_per_s" in r]
    print(f'| {target.removeprefix("sft_")} | {s["trainable_params"]:,} | {100 * s["trainable_fraction"]:.2f}% | ' +
          " | ".join(em(target, t) for t in tasks) +
          f' | {s["init_val_loss"]:.3f} → {s["val_loss"]:.3f} | {statistics.median(tps):,.0f} | {m["seconds"]:.0f} s |')
PY
