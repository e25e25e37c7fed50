#!/usr/bin/env bash
# Sample generations from every model checkpoint of a finished run, the same prompts for each, so that
# what pretraining, SFT, DPO and PPO changed can be read side by side (docs/gpt-small-run.md quotes it):
#   scripts/samples.sh [RUN_DIR] [STAGE ...]    (default checkpoints/gpt-small; stages pretrain sft dpo ppo)
# Per stage: three prompts decoded greedily (a KJV opening, a direct and a chain-of-thought arithmetic
# question in the tasks stage's format, in none of gpt-small's task splits) and two seeded samples at
# temperature 0.8, top-k 40, from an empty prompt. The same run directory gives the same text.
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-checkpoints/gpt-small}
shift || true
(($# > 0)) || set -- pretrain sft dpo ppo
[ -x bin/pipeline ] || go build -o bin/pipeline .

prompts=(
	"And God said"
	$'Question: What is 47 + 38?\nAnswer:'
	$'Question: What is 63 - 27?\nAnswer: Let\'s think step by step.'
)
for stage in "$@"; do
	dir=$run/$stage
	[ -f "$dir/model.safetensors" ] || { echo "samples: $dir has no model.safetensors" >&2; exit 1; }
	for p in "${prompts[@]}"; do
		printf '== %s greedy | %s\n' "$stage" "${p//$'\n'/\\n}"
		bin/pipeline generate --checkpoint "$dir" --prompt "$p" --greedy --max-new-tokens 48
	done
	for seed in 1 2; do
		printf '== %s T=0.8 top-k 40 seed %d | (empty prompt)\n' "$stage" "$seed"
		bin/pipeline generate --checkpoint "$dir" --prompt "" --temperature 0.8 --top-k 40 --seed "$seed" --max-new-tokens 48
	done
done
