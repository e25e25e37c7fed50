// The peer tokenizers that scripts/bench-bpe.sh and scripts/check-hf-tokenizer.sh compare ours against.
//
//   node bpe-peers.js hf-train FILE RUNS            time Hugging Face's BPE trainer (byte-level) on FILE
//   node bpe-peers.js tiktoken-encode FILE RUNS     time tiktoken's gpt2 encode_ordinary of FILE
//   node bpe-peers.js hf-encode TOKENIZER_JSON FILE print the ids HF's tokenizer gives FILE, space-separated
//
// The timing modes print one JSON line. Each timed run is preceded by one untimed warm-up run (the
// JIT and WASM compile), and the figure is the mean of RUNS runs, timing only the work itself (not
// loading the module, the vocabulary or the file).
"use strict";
const fs = require("fs");
const { performance } = require("perf_hooks");

function mean(xs) {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function time(runs, fn) {
  fn();
  const secs = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    secs.push((performance.now() - t0) / 1000);
  }
  return secs;
}

function hfTrain(file, runs) {
  const { Tokenizer, BPE, byteLevelPreTokenizer } = require("tokenizers");
  let vocab = 0;
  const secs = time(runs, () => {
    const tok = new Tokenizer(BPE.empty());
    tok.setPreTokenizer(byteLevelPreTokenizer());
    tok.train([file]);
    vocab = tok.getVocabSize(true);
  });
  console.log(JSON.stringify({ peer: "hf-tokenizers-0.13.3 train", file, runs, mean_s: mean(secs), runs_s: secs, vocab }));
}

function tiktokenEncode(file, runs) {
  const { get_encoding } = require("tiktoken");
  const enc = get_encoding("gpt2");
  const text = fs.readFileSync(file, "utf8");
  const bytes = Buffer.byteLength(text, "utf8");
  let tokens = 0;
  const secs = time(runs, () => {
    tokens = enc.encode_ordinary(text).length;
  });
  enc.free();
  const m = mean(secs);
  console.log(JSON.stringify({ peer: "tiktoken-1.0.22 gpt2 encode_ordinary", file, runs, mean_s: m, runs_s: secs,
    tokens, bytes, mb_per_s: bytes / 1e6 / m }));
}

async function hfEncode(tokenizerJSON, file) {
  const { Tokenizer } = require("tokenizers");
  const tok = Tokenizer.fromFile(tokenizerJSON);
  const text = fs.readFileSync(file, "utf8");
  const enc = await tok.encode(text);
  process.stdout.write(enc.getIds().join(" ") + "\n");
}

const [mode, a, b] = process.argv.slice(2);
switch (mode) {
  case "hf-train":
    hfTrain(a, Number(b || 5));
    break;
  case "tiktoken-encode":
    tiktokenEncode(a, Number(b || 5));
    break;
  case "hf-encode":
    hfEncode(a, b).catch((e) => {
      console.error(e);
      process.exit(1);
    });
    break;
  default:
    console.error("usage: node bpe-peers.js hf-train FILE [RUNS] | tiktoken-encode FILE [RUNS] | hf-encode TOKENIZER_JSON FILE");
    process.exit(2);
}
