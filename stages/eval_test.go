package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"pipeline/dataset"
	"pipeline/evaluate"
	"pipeline/graphs"
	"pipeline/pipeline"
	"pipeline/tokenizer"
)

// adapterFixture is a random model of context 16 with a tokenizer trained on a few sentences, and the full
// graph model over the same weights that the decoder's answers are checked against.
func adapterFixture(t *testing.T) (*checkpointModel, *graphs.Model, *tokenizer.Tokenizer) {
	t.Helper()
	tok, err := tokenizer.Train([]string{strings.Repeat("the lord said unto moses, go forth into the land. 12 + 5 = 17\n", 20)},
		tokenizer.TrainOptions{VocabSize: 280, SpecialTokens: tokenizer.DefaultSpecialTokens})
	if err != nil {
		t.Fatal(err)
	}
	cfg := graphs.NewConfig(tok.VocabSize(), 16, 16, 2, 2)
	params := graphs.NewParams(cfg)
	params.Init(3, 0.5) // a large std: logits far apart, so no argmax is a near tie
	m, err := newCheckpointModel(context.Background(), &policy{cfg: cfg, base: params}, tok)
	if err != nil {
		t.Fatal(err)
	}
	full, err := graphs.NewModel(cfg, params, 1, cfg.NPositions, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { full.Close() })
	return m, full, tok
}

// fullLogits runs the graph model over ids (padded to its length; the model is causal, so the padding
// changes no earlier position) and returns the logits of each position of ids.
func fullLogits(t *testing.T, full *graphs.Model, ids []int) [][]float32 {
	t.Helper()
	in := make([]int, full.T)
	copy(in, ids)
	logits, err := full.Forward(in)
	if err != nil {
		t.Fatal(err)
	}
	V := full.Cfg.VocabSize
	out := make([][]float32, len(ids))
	for i := range out {
		out[i] = slices.Clone(logits[i*V : (i+1)*V])
	}
	return out
}

// handLogLikelihood is sum_i log(exp(z_i[c_i]) / sum_v exp(z_i[v])) over the continuation's positions of a
// full forward of context+continuation less its last token, and whether each c_i is the largest logit.
func handLogLikelihood(t *testing.T, full *graphs.Model, context, cont []int) (float64, bool) {
	t.Helper()
	z := fullLogits(t, full, append(slices.Clone(context), cont[:len(cont)-1]...))
	sum, greedy := 0.0, true
	for i, c := range cont {
		row := z[len(context)-1+i]
		var norm float64
		for _, v := range row {
			norm += math.Exp(float64(v))
		}
		sum += math.Log(math.Exp(float64(row[c])) / norm)
		greedy = greedy && slices.Index(row, slices.Max(row)) == c
	}
	return sum, greedy
}

// greedyChain appends n argmax tokens to ids, each from a full forward of everything so far, stopping after
// stop.
func greedyChain(t *testing.T, full *graphs.Model, ids []int, n, stop int) []int {
	t.Helper()
	var out []int
	for range n {
		z := fullLogits(t, full, append(slices.Clone(ids), out...))
		row := z[len(z)-1]
		next := slices.Index(row, slices.Max(row))
		out = append(out, next)
		if next == stop {
			break
		}
	}
	return out
}

// TestCheckpointModelLogLikelihood: the decoder's log-likelihood equals the log-softmax summed by hand
// over a full forward, the greedy flag is set exactly for the argmax chain, and a context too long for
// n_positions = 16 keeps its last 16 + 1 - len(continuation) tokens and is counted.
func TestCheckpointModelLogLikelihood(t *testing.T) {
	m, full, tok := adapterFixture(t)
	ctx, cont := tok.Encode("the lord said"), tok.Encode(" unto moses, go")
	got, greedy, err := m.LogLikelihood(ctx, cont)
	if err != nil {
		t.Fatal(err)
	}
	want, wantGreedy := handLogLikelihood(t, full, ctx, cont)
	if math.Abs(got-want) > 1e-5 || greedy != wantGreedy {
		t.Errorf("LogLikelihood = %.7f, greedy %v; by hand %.7f, %v", got, greedy, want, wantGreedy)
	}
	if want > -1 {
		t.Fatalf("by hand %.4f: a random model should find this text unlikely", want)
	}

	chain := greedyChain(t, full, ctx, 4, -1)
	if _, greedy, _ := m.LogLikelihood(ctx, chain); !greedy {
		t.Errorf("the argmax chain %v is not greedy", chain)
	}
	chain[3] = (chain[3] + 1) % tok.VocabSize()
	if _, greedy, _ := m.LogLikelihood(ctx, chain); greedy {
		t.Errorf("a chain with a non-argmax last token %v is greedy", chain)
	}

	long := tok.Encode("the lord said unto moses, go forth into the land. the lord said unto moses,")
	if len(long) <= 16 {
		t.Fatalf("context of %d tokens does not overflow", len(long))
	}
	before := m.truncated
	got, _, err = m.LogLikelihood(long, cont)
	if err != nil {
		t.Fatal(err)
	}
	want, _ = handLogLikelihood(t, full, long[len(long)-(17-len(cont)):], cont)
	if math.Abs(got-want) > 1e-5 || m.truncated != before+1 {
		t.Errorf("truncated: LogLikelihood = %.7f, by hand %.7f; truncated %d -> %d", got, want, before, m.truncated)
	}
	if _, _, err := m.LogLikelihood(ctx, make([]int, 17)); err == nil {
		t.Error("a continuation longer than the context accepted")
	}
}

// TestCheckpointModelGenerate: greedy generation is the argmax chain of full forwards, cut before a stop
// string, and a prompt longer than n_positions - maxNew keeps its last tokens.
func TestCheckpointModelGenerate(t *testing.T) {
	m, full, tok := adapterFixture(t)
	eot, _ := tok.SpecialID(tokenizer.EndOfText)
	decode := func(ids []int) string {
		if len(ids) > 0 && ids[len(ids)-1] == eot {
			ids = ids[:len(ids)-1]
		}
		return string(tok.Decode(ids))
	}
	prompt := "the lord said"
	ids := tok.Encode(prompt)
	want := decode(greedyChain(t, full, ids, 6, eot))
	got, err := m.Generate(prompt, 6, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != want || m.truncated != 0 {
		t.Errorf("Generate = %q (truncated %d); argmax chain %q", got, m.truncated, want)
	}
	if len(want) < 4 {
		t.Fatalf("the argmax chain decodes to %q, too short to cut", want)
	}
	stop := want[len(want)/2:][:1]
	got, err = m.Generate(prompt, 6, []string{stop})
	if cut := want[:strings.Index(want, stop)]; err != nil || got != cut {
		t.Errorf("with stop %q: %q, %v; want %q", stop, got, err, cut)
	}

	long := "the lord said unto moses, go forth into the land. the lord said unto"
	ids = tok.Encode(long)
	if len(ids) <= 16-6 {
		t.Fatalf("prompt of %d tokens does not overflow", len(ids))
	}
	want = decode(greedyChain(t, full, ids[len(ids)-10:], 6, eot))
	if got, err := m.Generate(long, 6, nil); err != nil || got != want || m.truncated != 1 {
		t.Errorf("long prompt: %q, %v (truncated %d); want %q", got, err, m.truncated, want)
	}
	if _, err := m.Generate(prompt, 16, nil); err == nil {
		t.Error("max_new_tokens filling the whole context accepted")
	}
}

// writeToyKJV writes kjv.txt: one book of 30 chapters of 6 verses, each 8 random words of a small
// vocabulary, in kjv.txt's format.
func writeToyKJV(t *testing.T, dir string) {
	t.Helper()
	words := strings.Fields("the lord said unto moses and aaron go forth into the land which i give you and ye shall eat bread")
	rng := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	for ch := 1; ch <= 30; ch++ {
		fmt.Fprintf(&b, "\nToy %d\n\n", ch)
		for v := 1; v <= 6; v++ {
			fmt.Fprintf(&b, "  %d", v)
			for range 8 {
				b.WriteString(" " + words[rng.IntN(len(words))])
			}
			b.WriteString(".\n")
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "kjv.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// toyEvalConfig scores two pretrained checkpoints (4 and 8 steps) on three tasks, 5 eval items each, and on
// the toy corpus's held-out documents. n_positions 32 is short enough that some few-shot prompts are cut.
const toyEvalConfig = `run: toy
seed: 5
out_dir: out
model: {n_layer: 1, n_head: 2, n_embd: 16, n_positions: 32}
stages:
  - name: bpe
    kind: bpe
    corpus: [corpus.txt, kjv.txt]
    vocab_size: 300
  - name: tasks
    kind: tasks
    corpus: [kjv.txt]
    train: 5
    eval: 5
    fewshot: 3
    min_digits: 1
    max_digits: 1
    max_verse_words: 10
  - name: short
    kind: pretrain
    tokenizer: bpe
    corpus: [corpus.txt]
    val_fraction: 0.2
    batch_size: 2
    max_steps: 4
    warmup_steps: 1
    eval_every: 4
    eval_batches: 1
    checkpoint_every: 4
    sample_tokens: 0
  - name: long
    kind: pretrain
    tokenizer: bpe
    corpus: [corpus.txt]
    val_fraction: 0.2
    batch_size: 2
    max_steps: 8
    warmup_steps: 1
    eval_every: 8
    eval_batches: 1
    checkpoint_every: 8
    sample_tokens: 0
  - name: eval
    kind: eval
    targets: [long, short]
    tasks: tasks
    num_fewshot: 2
    max_new_tokens: 4
    cot_max_new_tokens: 8
    perplexity: {corpus: [corpus.txt], held_out_by: short, max_docs: 7}
`

// TestEvalStage runs bpe, tasks, two pretrains and eval through the runner: report.json has one row per
// target in the order given, every cell counts the items scored (5; chain of thought on arithmetic only),
// the item logs hold those items, report.md and report.png exist, the text score covers 7 held-out
// documents, the manifest carries the headline numbers, and a forced second run writes the same bytes.
func TestEvalStage(t *testing.T) {
	dir := t.TempDir()
	writeToyCorpus(t, dir)
	writeToyKJV(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "run.yaml"), []byte(toyEvalConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.Load(filepath.Join(dir, "run.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := pipeline.Run(context.Background(), cfg, pipeline.RunOptions{Out: &log}); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	out := filepath.Join(cfg.RunDir(), "eval")
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r evaluate.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Checkpoints, []string{"long", "short"}) {
		t.Errorf("rows %v, want [long short]", r.Checkpoints)
	}
	cells := map[string][]string{
		"arithmetic":     {"0-shot", "2-shot", "cot-0-shot", "cot-2-shot"},
		"verse_choice":   {"0-shot", "2-shot"},
		"verse_continue": {"0-shot", "2-shot"},
	}
	for _, target := range r.Checkpoints {
		if len(r.Scores[target]) != len(cells) {
			t.Errorf("%s: tasks %v", target, r.Scores[target])
		}
		for task, modes := range cells {
			if len(r.Scores[target][task]) != len(modes) {
				t.Errorf("%s %s: promptings %v, want %v", target, task, r.Scores[target][task], modes)
			}
			for _, mode := range modes {
				s, ok := r.Scores[target][task][mode]
				logs := readItemLog(t, evaluate.ItemLogPath(out, target, task, mode))
				correct := 0
				for _, l := range logs {
					if l.Correct {
						correct++
					}
				}
				if !ok || s.N != 5 || len(logs) != 5 || s.Correct != correct {
					t.Errorf("%s %s %s: score %+v (present %v), %d logged items with %d correct", target, task, mode, s, ok, len(logs), correct)
				}
				if (s.Norm != nil) != (task == "verse_choice") {
					t.Errorf("%s %s %s: acc_norm %v", target, task, mode, s.Norm)
				}
				if !strings.Contains(logs[0].Prompt, "Answer:") && task == "arithmetic" {
					t.Errorf("%s %s: prompt %q", task, mode, logs[0].Prompt)
				}
			}
		}
		if text := r.Text[target]; text.Docs != 7 || !(text.BitsPerByte > 0) {
			t.Errorf("%s: held-out text %+v", target, text)
		}
	}
	// The documents scored are the first 7 that pretraining held out (seed 5, val_fraction 0.2).
	all, err := dataset.SplitDocuments(filepath.Join(dir, "corpus.txt"), regexp.MustCompile(`^\s*%?\s*$`))
	if err != nil {
		t.Fatal(err)
	}
	heldOut, bytesHeldOut := 0, 0
	for _, d := range all {
		if heldOut < 7 && dataset.IsValidation(d, 5, 0.2) {
			heldOut, bytesHeldOut = heldOut+1, bytesHeldOut+len(d.Text)
		}
	}
	if got := r.Text["long"].Bytes; got != bytesHeldOut {
		t.Errorf("held-out text of %d bytes, want %d", got, bytesHeldOut)
	}
	// The longer-trained model predicts held-out text better.
	if r.Text["long"].BitsPerByte >= r.Text["short"].BitsPerByte {
		t.Errorf("bits per byte: long %.4f, short %.4f", r.Text["long"].BitsPerByte, r.Text["short"].BitsPerByte)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(string(md), "\n| long |") + strings.Count(string(md), "\n| short |"); rows != 4 {
		t.Errorf("report.md has %d target rows, want 2 in each of its two tables:\n%s", rows, md)
	}
	if _, err := os.Stat(filepath.Join(out, "report.png")); err != nil {
		t.Error(err)
	}
	if !strings.Contains(log.String(), "[eval] | long |") {
		t.Errorf("the log does not show the table:\n%s", log.String())
	}
	m, err := pipeline.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := m.Summary["acc"].(map[string]any)
	long, _ := acc["long"].(map[string]any)
	truncated, _ := m.Summary["truncated"].(map[string]any)
	if len(long) != 8 || long["arithmetic 0-shot"] != r.Scores["long"]["arithmetic"]["0-shot"].Acc ||
		m.Summary["bits_per_byte"] == nil || truncated["long"] == 0.0 {
		t.Errorf("summary %v", m.Summary)
	}

	// Run again: the same bytes.
	files := []string{"report.json", "report.md", "items/short/arithmetic/cot-2-shot.jsonl", "items/long/verse_choice/0-shot.jsonl"}
	first := map[string][]byte{}
	for _, f := range files {
		first[f], _ = os.ReadFile(filepath.Join(out, f))
	}
	if err := pipeline.Run(context.Background(), cfg, pipeline.RunOptions{Force: []string{"eval"}, Out: io.Discard}); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if again, _ := os.ReadFile(filepath.Join(out, f)); len(again) == 0 || !bytes.Equal(again, first[f]) {
			t.Errorf("%s differs between two runs", f)
		}
	}
}

func readItemLog(t *testing.T, path string) []evaluate.ItemLog {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return nil
	}
	var out []evaluate.ItemLog
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var l evaluate.ItemLog
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, l)
	}
	return out
}

// A cancelled run's context fails the next request with its error.
func TestCheckpointModelCancel(t *testing.T) {
	m, _, tok := adapterFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	m.ctx = ctx
	cancel()
	if _, _, err := m.LogLikelihood(tok.Encode("the lord"), tok.Encode(" said")); !errors.Is(err, context.Canceled) {
		t.Errorf("LogLikelihood after cancel: %v", err)
	}
	if _, err := m.Generate("the lord", 4, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Generate after cancel: %v", err)
	}
}

// TestEvalValidate: each bad option is reported under its own key.
func TestEvalValidate(t *testing.T) {
	dir := t.TempDir()
	writeToyCorpus(t, dir)
	config := `run: toy
model: {n_positions: 32}
stages:
  - {name: bpe, kind: bpe, corpus: [corpus.txt], vocab_size: 300}
  - {name: tasks, kind: tasks, tasks: [arithmetic], train: 20, eval: 5, fewshot: 2, min_digits: 1, max_digits: 2}
  - {name: pretrain, kind: pretrain, tokenizer: bpe, corpus: [corpus.txt]}
  - name: eval
    kind: eval
    targets: [pretrain, pretrain]
    tasks: tasks
    task_names: [verse_choice]
    prompting: [few_shot, cot_sometimes]
    num_fewshot: 3
    max_new_tokens: 32
    answer_pattern: "no group"
    perplexity: {corpus: [corpus.txt], max_docs: -1}
`
	path := filepath.Join(dir, "run.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := pipeline.Load(path, nil)
	problems, ok := pipeline.AsProblems(err)
	if !ok {
		t.Fatalf("want config problems, got %v", err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, strings.TrimPrefix(p.Path, "stages[3]."))
	}
	slices.Sort(got)
	want := []string{"answer_pattern", "max_new_tokens", "num_fewshot", "perplexity.held_out_by", "perplexity.max_docs",
		"prompting", "targets", "task_names"}
	if !slices.Equal(got, want) {
		t.Errorf("problems at %v, want %v:\n%v", got, want, err)
	}
}

// A checkpoint directory loads with its tokenizer and scores as the model it was saved from; a directory
// with neither the full weights nor an adapter is refused by name.
func TestLoadCheckpointModel(t *testing.T) {
	m, _, tok := adapterFixture(t)
	dir := t.TempDir()
	params := graphs.NewParams(m.cfg)
	params.Init(3, 0.5)
	if err := graphs.Save(dir, m.cfg, params); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCheckpointModel(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "is not a model checkpoint (tokenizer.json") {
		t.Errorf("a directory without tokenizer.json: %v", err)
	}
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := loadCheckpointModel(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cont := tok.Encode("the lord said"), tok.Encode(" unto moses")
	a, _, errA := m.LogLikelihood(ctx, cont)
	b, _, errB := loaded.LogLikelihood(ctx, cont)
	if errA != nil || errB != nil || a != b {
		t.Errorf("saved and loaded: %v, %v; in memory: %v, %v", b, errB, a, errA)
	}
	if err := os.Remove(filepath.Join(dir, graphs.ModelFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCheckpointModel(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "is neither a full checkpoint (model.safetensors) nor an adapter (adapter_config.json)") {
		t.Errorf("a directory without %s: %v", graphs.ModelFile, err)
	}
}

// An adapter directory (PEFT's files, the base named relative to it) scores as the base with the adapter:
// the decoder's log-likelihood equals the one summed by hand over the graph model with the adapter, and
// differs from the base's. Prefix and prompt tuning leave n_positions - P = 12 positions, so a long
// context keeps its last 12 + 1 - len(continuation) tokens.
func TestLoadCheckpointModelAdapters(t *testing.T) {
	m, base, tok := adapterFixture(t)
	cfg := m.cfg
	params := graphs.NewParams(cfg)
	params.Init(3, 0.5) // the fixture's weights
	root := t.TempDir()
	baseDir := filepath.Join(root, "base")
	os.Mkdir(baseDir, 0o755)
	if err := graphs.Save(baseDir, cfg, params); err != nil {
		t.Fatal(err)
	}
	ctx, cont := tok.Encode("the lord said"), tok.Encode(" unto moses, go")[:4] // context + continuation fit 12 positions
	long := tok.Encode("the lord said unto moses, go forth into the land. the lord said unto moses,")
	baseLL, _ := handLogLikelihood(t, base, ctx, cont)

	lora, err := graphs.NewLoRA(cfg, graphs.LoRAOptions{R: 2, Alpha: 4, TargetModules: []string{"attn.c_attn", "mlp.c_proj"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range lora.Params.Data { // B != 0: the adapter changes the model
		lora.Params.Data[i] = float32(math.Sin(float64(i))) * 0.3
	}
	prefix, err := graphs.NewPrefix(cfg, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	prompt, err := graphs.NewPrompt(cfg, params, graphs.PromptOptions{NumVirtualTokens: 4}, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*graphs.Adapter{lora, prefix, prompt} {
		t.Run(string(a.Config.PeftType), func(t *testing.T) {
			dir := filepath.Join(root, string(a.Config.PeftType))
			a.Config.BaseModelNameOrPath = "../base"
			os.Mkdir(dir, 0o755)
			if err := graphs.SaveAdapter(dir, cfg, a); err != nil {
				t.Fatal(err)
			}
			if err := tok.Save(dir); err != nil {
				t.Fatal(err)
			}
			loaded, err := loadCheckpointModel(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			T := cfg.NPositions - a.Virtual()
			if loaded.context != T {
				t.Errorf("context %d, want %d", loaded.context, T)
			}
			withAdapter, err := graphs.NewModelWith(cfg, params, 1, T, graphs.ModelOptions{Adapter: a})
			if err != nil {
				t.Fatal(err)
			}
			defer withAdapter.Close()
			for _, c := range [][]int{ctx, long[len(long)-(T+1-len(cont)):]} {
				got, _, err := loaded.LogLikelihood(c, cont)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := handLogLikelihood(t, withAdapter, c, cont)
				if math.Abs(got-want) > 1e-4 {
					t.Errorf("context of %d: LogLikelihood %.6f, by hand with the adapter %.6f", len(c), got, want)
				}
			}
			if got, _, _ := loaded.LogLikelihood(ctx, cont); math.Abs(got-baseLL) < 0.01 {
				t.Errorf("LogLikelihood %.6f, the base's %.6f: the adapter is not applied", got, baseLL)
			}
			before := loaded.truncated
			a1, _, err := loaded.LogLikelihood(long, cont)
			b1, _, err2 := loaded.LogLikelihood(long[len(long)-(T+1-len(cont)):], cont)
			if err != nil || err2 != nil || a1 != b1 || loaded.truncated != before+1 {
				t.Errorf("a long context: %v (%v) where its last %d tokens give %v (%v); truncated %d -> %d",
					a1, err, T+1-len(cont), b1, err2, before, loaded.truncated)
			}
		})
	}
}
