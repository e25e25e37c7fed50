#!/usr/bin/env bash
# bench-train.sh: our training step (graphs.BenchmarkTrainStep: forward, backward, clip, AdamW)
# against the PyTorch reference (../shared/reference/gpt2_ref.py bench, 1 torch thread) on the same
# sizes, alternating the two ROUNDS times; prints each run, the best tokens/s of each and the ratio.
#
#   scripts/bench-train.sh                          # the bench config and gpt-small's pretraining shape
#   scripts/bench-train.sh 512 64 128 4 4 8 [...]   # VOCAB CTX D LAYERS HEADS BATCH, repeatable
#
# Environment: STEPS (timed steps per run, default 20), ROUNDS (default 2), SHARED (default
# ../shared next to the repository), GOFLAGS (e.g. "-tags=purego" for the pure-Go BLAS build).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$root/../shared}
steps=${STEPS:-20}
rounds=${ROUNDS:-2}
ref=$shared/reference/gpt2_ref.py
[[ -f $ref ]] || { echo "bench-train: $ref not found (set SHARED)" >&2; exit 2; }
/usr/bin/python3 -c 'import torch' 2>/dev/null ||
	{ echo "bench-train: the reference needs PyTorch in /usr/bin/python3: apt-get install python3-torch (Debian's 1.13)" >&2; exit 2; }

if (($# == 0)); then
	set -- 512 64 128 4 4 8 4096 256 128 4 4 8
fi
if (($# % 6 != 0)); then
	echo "usage: $0 [VOCAB CTX D LAYERS HEADS BATCH]..." >&2
	exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && go test -c -o "$tmp/graphs.test" ./graphs)

best() { printf '%s\n' "$@" | sort -g | tail -1; }

while (($# > 0)); do
	V=$1 T=$2 D=$3 L=$4 H=$5 B=$6
	shift 6
	echo "== vocab $V ctx $T d $D layers $L heads $H batch $B ($steps steps x $rounds rounds)"
	gos=() torchs=()
	for ((r = 1; r <= rounds; r++)); do
		t=$(/usr/bin/python3 "$ref" bench --vocab "$V" --ctx "$T" --d "$D" --layers "$L" --heads "$H" \
			--batch "$B" --steps "$steps" --threads 1 |
			/usr/bin/python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["tokens_per_s"])')
		g=$("$tmp/graphs.test" -test.run '^$' -test.bench '^BenchmarkTrainStep$' -test.benchtime "${steps}x" \
			-gpt.vocab "$V" -gpt.ctx "$T" -gpt.d "$D" -gpt.layers "$L" -gpt.heads "$H" -gpt.batch "$B" |
			awk '/^BenchmarkTrainStep/ { for (i = 1; i < NF; i++) if ($(i + 1) == "tokens/s") print $i }')
		[[ -n $g ]] || { echo "bench-train: the Go benchmark printed no tokens/s" >&2; exit 1; }
		read -r load _ </proc/loadavg
		echo "round $r: pytorch $t tokens/s, go $g tokens/s (load average $load)"
		torchs+=("$t") gos+=("$g")
	done
	t=$(best "${torchs[@]}") g=$(best "${gos[@]}")
	awk -v g="$g" -v t="$t" 'BEGIN { printf "best: pytorch %.0f tokens/s, go %.0f tokens/s, go/pytorch %.2fx\n", t, g, g / t }'
done
