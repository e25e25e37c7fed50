// Package evaluate scores language models on held-out text and on task items, following the conventions
// of EleutherAI's lm-evaluation-harness, and writes the results as report.json, report.md, per-item logs
// and a bar chart.
//
// The model stays behind two small interfaces, so everything here runs against fakes in tests:
//
//   - a Scorer answers lm-eval's loglikelihood request: the summed log-probability of continuation tokens
//     given context tokens, and whether greedy decoding would have produced them. Perplexity (rolling
//     windows) and multiple choice are built on it.
//   - a Generator continues a prompt greedily. Exact-match generation is built on it.
//
// Scoring modes: perplexity and bits per byte over corpus text (Perplexity); multiple choice by the
// log-likelihood of each choice, raw (acc) and per byte (acc_norm) (MultipleChoice); greedy generation
// with exact match of an extracted answer (ExactMatch). Prompts are zero-shot, k-shot or chain-of-thought
// (Prompting), built with the tasks package's formatting so that training and evaluation agree.
package evaluate
