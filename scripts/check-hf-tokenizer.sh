#!/usr/bin/env bash
# Interop check (issue 3), run by CI: the tokenizer.json our bpe stage writes for kjv.txt loads in Hugging
# Face tokenizers (npm tokenizers 0.13.3 + tokenizers-linux-x64-gnu 0.13.4-rc2, run by node) and encodes
# kjv.txt to exactly the ids our encoder gives; so does a text with special tokens. Checked for the GPT-2
# pattern and for the GPT-4 pattern with split_digits. Exits non-zero on any mismatch.
#
# Usage: scripts/check-hf-tokenizer.sh     (PIPELINE=path/to/pipeline to use a built binary; reads kjv.txt from
#                                  ../shared/data/corpus, else data/corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
# kjv.txt: ../shared's copy when there is one, else the repository's data/corpus (scripts/get-data.sh).
kjv=
for c in ../shared/data/corpus/kjv.txt data/corpus/kjv.txt; do
	if [ -f "$c" ]; then
		kjv=$(realpath "$c")
		break
	fi
done
[ -n "$kjv" ] || { echo "check-hf-tokenizer: kjv.txt not found in ../shared/data/corpus nor data/corpus (run bash scripts/get-data.sh)" >&2; exit 1; }
echo "check-hf-tokenizer: using $kjv"
[ -d scripts/js/node_modules ] || (cd scripts/js && npm install --no-audit --no-fund --no-save >&2)
bin=${PIPELINE:-}
if [ -z "$bin" ]; then
	bin=bin/pipeline
	go build -o "$bin" .
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '<|user|>What is 12+30?<|assistant|> 42.<|endoftext|>\n\n  <|system|>x' >"$tmp/special.txt"

status=0
for variant in "gpt2 false" "gpt4 true"; do
	read -r pattern digits <<<"$variant"
	cat >"$tmp/$pattern.yaml" <<YAML
run: $pattern
out_dir: $tmp/out
stages:
  - name: bpe
    kind: bpe
    corpus: ["$kjv"]
    vocab_size: 20000
    pattern: $pattern
    split_digits: $digits
YAML
	"$bin" run "$tmp/$pattern.yaml" >/dev/null
	dir=$tmp/out/$pattern/bpe
	for input in "$kjv" "$tmp/special.txt"; do
		"$bin" tokenize --tokenizer "$dir" --special <"$input" >"$tmp/ours.ids"
		node scripts/js/bpe-peers.js hf-encode "$dir/tokenizer.json" "$input" >"$tmp/hf.ids"
		n=$(wc -w <"$tmp/ours.ids")
		if cmp -s "$tmp/ours.ids" "$tmp/hf.ids"; then
			echo "ok       $pattern split_digits=$digits $(basename "$input"): $n ids identical"
		else
			echo "MISMATCH $pattern split_digits=$digits $(basename "$input"): ours $n ids, HF $(wc -w <"$tmp/hf.ids");" \
				"first difference at id $(cmp <(tr ' ' '\n' <"$tmp/ours.ids") <(tr ' ' '\n' <"$tmp/hf.ids") | awk '{print $NF}')"
			status=1
		fi
	done
done
exit $status
