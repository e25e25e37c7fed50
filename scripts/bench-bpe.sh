#!/usr/bin/env bash
# Benchmarks our BPE tokenizer against its peers on this machine, in one run (issue 3):
#   training on kjv.txt to 20,000 tokens  vs  Hugging Face tokenizers' BPE trainer (npm 0.13.3, byte-level
#                                             pre-tokenizer, default trainer: it stops at 20,518 tokens)
#   encoding kjv.txt with GPT-2's merges  vs  tiktoken's gpt2 encode_ordinary (npm 1.0.22, WASM)
# Each figure is the mean of RUNS timed runs of the work alone, in-process (Go: go test -bench with
# -benchtime RUNSx, cold word cache each run; node: after one untimed warm-up run). Ours runs on all CPUs
# and, for reference, on one. The measurements are repeated in ROUNDS interleaved rounds, so that load
# from other work on the machine hits ours and the peers alike; the summary gives each figure's median.
#
# Usage: scripts/bench-bpe.sh [RUNS [ROUNDS]]     (defaults 3 and 3; needs ../shared, go, node and npm)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
rounds=${2:-3}
kjv=../shared/data/corpus/kjv.txt
[ -f "$kjv" ] || { echo "bench-bpe: $kjv not found (../shared next to the repository)" >&2; exit 1; }
[ -d scripts/js/node_modules ] || (cd scripts/js && npm install --no-audit --no-fund --no-save >&2)
go test -c -o "${TMPDIR:-/tmp}/bench-bpe-tokenizer.test" ./tokenizer
testbin=${TMPDIR:-/tmp}/bench-bpe-tokenizer.test
trap 'rm -f "$testbin"' EXIT

# ours CPUS: "train_s encode_s" from the Go benchmarks (run in the package directory, for ../shared).
ours() {
	(cd tokenizer && GOMAXPROCS=$1 "$testbin" -test.run '^$' -test.bench '^Benchmark(TrainKJV|EncodeKJV)$' \
		-test.benchtime "${runs}x") | awk '/^BenchmarkTrainKJV/ {t = $3 / 1e9} /^BenchmarkEncodeKJV/ {e = $3 / 1e9} END {print t, e}'
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
rows=()
for round in $(seq "$rounds"); do
	read -r train encode <<<"$(ours "$(nproc)")"
	read -r train1 encode1 <<<"$(ours 1)"
	hf=$(node scripts/js/bpe-peers.js hf-train "$kjv" "$runs" | tail -n 1)
	tt=$(node scripts/js/bpe-peers.js tiktoken-encode "$kjv" "$runs" | tail -n 1)
	rows+=("{\"train\":$train,\"encode\":$encode,\"train1\":$train1,\"encode1\":$encode1,\"hf\":$hf,\"tt\":$tt}")
	echo "round $round done, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
printf '%s\n' "${rows[@]}" | node -e '
const rows = require("fs").readFileSync(0, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[(s.length - 1) >> 1]; };
const bytes = rows[0].tt.bytes, mbs = (s) => bytes / 1e6 / s;
const f = (x, d = 3) => x.toFixed(d);
console.log("| round | ours train (all CPUs / 1 CPU) | HF train | ratio | ours encode (all CPUs / 1 CPU) | tiktoken encode | ratio |");
console.log("|---|---|---|---|---|---|---|");
const ratios = { train: [], train1: [], encode: [], encode1: [] };
rows.forEach((r, i) => {
  const q = { train: r.hf.mean_s / r.train, train1: r.hf.mean_s / r.train1,
    encode: mbs(r.encode) / r.tt.mb_per_s, encode1: mbs(r.encode1) / r.tt.mb_per_s };
  for (const k in q) ratios[k].push(q[k]);
  console.log(`| ${i + 1} | ${f(r.train)} s / ${f(r.train1)} s | ${f(r.hf.mean_s)} s (to ${r.hf.vocab}) | ${f(q.train, 1)}x / ${f(q.train1, 1)}x | ` +
    `${f(mbs(r.encode), 1)} / ${f(mbs(r.encode1), 1)} MB/s | ${f(r.tt.mb_per_s, 1)} MB/s (${r.tt.tokens} tokens) | ${f(q.encode, 1)}x / ${f(q.encode1, 1)}x |`);
});
console.log(`\nmedian over ${rows.length} rounds: training ${f(median(ratios.train), 1)}x faster than HF tokenizers ` +
  `(${f(median(ratios.train1), 1)}x on 1 CPU); encoding ${f(median(ratios.encode), 1)}x tiktoken throughput ` +
  `(${f(median(ratios.encode1), 1)}x on 1 CPU)`);
'
