package stages

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pipeline/graphs"
	"pipeline/pipeline"
	"pipeline/textdata"
	"pipeline/tokenizer"
)

// toySFTConfig is the whole chain at toy size: a tokenizer, arithmetic tasks, a short pretraining and
// the sft stage, whose extra options end the file.
const toySFTConfig = `run: toy
seed: 5
out_dir: out
model: {n_layer: 1, n_head: 2, n_embd: 16, n_positions: 48}
stages:
  - name: bpe
    kind: bpe
    corpus: [corpus.txt]
    vocab_size: 300
  - name: tasks
    kind: tasks
    tokenizer: bpe
    tasks: [arithmetic]
    train: 40
    eval: 8
    fewshot: 2
    max_digits: 2
    worked_fraction: 0
  - name: pretrain
    kind: pretrain
    tokenizer: bpe
    corpus: [corpus.txt]
    val_fraction: 0.2
    batch_size: 4
    max_steps: 4
    warmup_steps: 1
    eval_every: 4
    eval_batches: 1
    checkpoint_every: 4
    sample_tokens: 4
  - name: sft
    kind: sft
    init: pretrain
    batch_size: 4
    max_steps: 12
    lr: 1.0e-2
    warmup_steps: 2
    eval_every: 4
    eval_batches: 0
    checkpoint_every: 3
    check_prompts: 3
`

// runToySFT writes the toy corpus and the config with these sft options into dir and runs it, cancelling
// the run as sft step stopAt begins (-1: never). It returns the run's log and error.
func runToySFT(t *testing.T, dir, sftOptions string, stopAt int) (string, error) {
	t.Helper()
	writeToyCorpus(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "run.yaml"), []byte(toySFTConfig+sftOptions), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.Load(filepath.Join(dir, "run.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	testHookSFTStep = func(step int) {
		if step == stopAt {
			cancel() // as Ctrl-C during step stopAt+1: the step finishes, a checkpoint is written
		}
	}
	defer func() { testHookSFTStep = nil }()
	var log bytes.Buffer
	err = pipeline.Run(ctx, cfg, pipeline.RunOptions{Out: &log})
	return log.String(), err
}

const sftFromTasks = "    data: tasks\n    eval_data: tasks\n"

// The stage fine-tunes the pretrained model on the tasks' SFT rows: the loss falls, and the output is a
// loadable checkpoint with its tokenizer, chat template and summary.
func TestSFTStage(t *testing.T) {
	dir := t.TempDir()
	log, err := runToySFT(t, dir, sftFromTasks, -1)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	out := filepath.Join(dir, "out/toy/sft")
	// Full fine-tuning trains all 8880 parameters: wte 300*16 + wpe 48*16 + ln_1, ln_2, ln_f 3*2*16 +
	// c_attn 16*48+48 + attn c_proj 16*16+16 + c_fc 16*64+64 + mlp c_proj 64*16+16.
	for _, want := range []string{"method full: 8880 of 8880 parameters trainable (100.00%)",
		"tasks/sft.jsonl: 40 records, 40 kept", "sft.partial/eval.jsonl: 8 records, 8 kept",
		"held-out: 8 examples in 2 batches per validation", "held-out exact match: "} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}

	// The loss falls: the held-out loss at the end is below the one after 4 steps, and so is the
	// training loss over the last 4 steps against the first 4.
	recs := readSFTMetrics(t, filepath.Join(out, "metrics.jsonl"))
	if len(recs) != 12 {
		t.Fatalf("%d metrics records, want 12", len(recs))
	}
	mean := func(rs []map[string]float64) float64 {
		s := 0.0
		for _, r := range rs {
			s += r["loss"]
		}
		return s / float64(len(rs))
	}
	if first, last := mean(recs[:4]), mean(recs[8:]); !(last < first-0.3) {
		t.Errorf("training loss %.3f over the first 4 steps, %.3f over the last 4: want a fall of more than 0.3", first, last)
	}
	if v4, v12 := recs[3]["val_loss"], recs[11]["val_loss"]; !(v12 < v4) {
		t.Errorf("held-out loss %.3f at step 4, %.3f at step 12: want a fall", v4, v12)
	}

	// The checkpoint loads, with the pretrained architecture and a tokenizer that has the chat markers.
	cfg, _, err := graphs.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NPositions != 48 || cfg.NEmbd != 16 {
		t.Errorf("config %+v, want the pretrained model's", cfg)
	}
	tok, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tok.SpecialID(tokenizer.Assistant); !ok {
		t.Errorf("the checkpoint's tokenizer lacks %s", tokenizer.Assistant)
	}
	var tc map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "tokenizer_config.json"))
	if err := json.Unmarshal(b, &tc); err != nil {
		t.Fatal(err)
	}
	if tc["chat_template"] != textdata.ChatTemplate || tc["eos_token"] != "<|endoftext|>" || tc["pad_token"] != "<|endoftext|>" {
		t.Errorf("tokenizer_config.json = %v", tc)
	}
	m, err := pipeline.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Summary["trainable_params"] != 8880.0 || m.Summary["trainable_fraction"] != 1.0 ||
		m.Summary["exact_match"] == nil || m.Summary["init_exact_match"] == nil {
		t.Errorf("summary %v", m.Summary)
	}
	// The held-out loss is the last validation's, and fine-tuning lowered it from the pretrained model's.
	if v, v0 := m.Summary["val_loss"], m.Summary["init_val_loss"]; v != recs[11]["val_loss"] || !(v.(float64) < v0.(float64)-0.5) {
		t.Errorf("held-out loss %v after fine-tuning, %v before; want the last validation's and a fall of more than 0.5", v, v0)
	}
	if _, err := os.Stat(filepath.Join(out, "loss.png")); err != nil {
		t.Error(err)
	}

	// Chat data trains too, and a malformed line fails the stage naming file, line and field while the
	// good output stays.
	chat := `{"messages": [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4"}]}` + "\n" +
		`{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "And 3 + 3?"}, {"role": "assistant", "content": "6"}]}` + "\n"
	os.WriteFile(filepath.Join(dir, "chat.jsonl"), []byte(chat), 0o644)
	if log, err := runToySFT(t, dir, "    data_files: [chat.jsonl]\n", -1); err != nil {
		t.Fatalf("chat data: %v\n%s", err, log)
	}
	os.WriteFile(filepath.Join(dir, "bad.jsonl"), []byte(`{"prompt": "a", "completion": " b"}`+"\n"+`{"prompt": "c", "completion": 7}`+"\n"), 0o644)
	log, err = runToySFT(t, dir, "    data_files: [bad.jsonl]\n", -1)
	if err == nil || !strings.Contains(err.Error(), `bad.jsonl:2: field "completion": want a string, got a number`) {
		t.Errorf("err = %v, want the line and field of the fault\n%s", err, log)
	}
	if _, _, err := graphs.Load(out); err != nil {
		t.Errorf("the previous output is gone: %v", err)
	}
}

// An sft stopped at step k and resumed ends with the same bytes as one never stopped.
func TestSFTResumeIsBitExact(t *testing.T) {
	opts := sftFromTasks + "    pack: true\n"
	straight := t.TempDir()
	if log, err := runToySFT(t, straight, opts, -1); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	want, err := os.ReadFile(filepath.Join(straight, "out/toy/sft/model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{4, 7} {
		dir := t.TempDir()
		if _, err := runToySFT(t, dir, opts, k); !errors.Is(err, pipeline.ErrInterrupted) {
			t.Fatalf("k=%d: want an interrupted run, got %v", k, err)
		}
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("out/toy/sft.partial/steps/%08d", k+1))); err != nil {
			t.Fatalf("k=%d: no checkpoint at the step where it stopped: %v", k, err)
		}
		log, err := runToySFT(t, dir, opts, -1)
		if err != nil {
			t.Fatalf("k=%d: %v\n%s", k, err, log)
		}
		if !strings.Contains(log, fmt.Sprintf("resumed from the checkpoint of step %d", k+1)) {
			t.Errorf("k=%d: the second run did not resume:\n%s", k, log)
		}
		got, err := os.ReadFile(filepath.Join(dir, "out/toy/sft/model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("k=%d: resumed weights differ from the uninterrupted run", k)
		}
	}
}

// A real batch of the tasks stage's sft.jsonl, padded or packed, weights exactly each example's
// completion and its <|endoftext|>: read along a row, the targets alternate between a prompt (weight 0)
// and its completion + "<|endoftext|>" (weight 1), then padding (weight 0).
func TestSFTBatchesWeightCompletionsOnly(t *testing.T) {
	dir := t.TempDir()
	writeToyCorpus(t, dir)
	cfg := strings.Split(toySFTConfig, "  - name: pretrain")[0]
	os.WriteFile(filepath.Join(dir, "run.yaml"), []byte(cfg), 0o644)
	c, err := pipeline.Load(filepath.Join(dir, "run.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pipeline.Run(context.Background(), c, pipeline.RunOptions{Out: io.Discard}); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(filepath.Join(dir, "out/toy/bpe"))
	if err != nil {
		t.Fatal(err)
	}
	eot, _ := tok.SpecialID(tokenizer.EndOfText)
	data := filepath.Join(dir, "out/toy/tasks/sft.jsonl")
	completionOf := map[string]string{} // prompt -> completion
	f, _ := os.Open(data)
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var r struct{ Prompt, Completion string }
		json.Unmarshal(sc.Bytes(), &r)
		completionOf[r.Prompt] = r.Completion
	}
	const T = 100 // room for two or three examples a row when packed
	env := &pipeline.Env{Stage: &pipeline.StageConfig{Name: "sft"}, Log: io.Discard}
	seqs, err := loadSFTFiles(env, []string{data}, tok, T)
	if err != nil {
		t.Fatal(err)
	}
	for _, pack := range []bool{false, true} {
		batches, err := textdata.NewBatcher(seqs, textdata.BatchOptions{B: 4, T: T, Pad: eot, Pack: pack, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		examples := 0
		for range 3 {
			b := batches.Next()
			for r := range b.B {
				ids, targets, weights := b.IDs[r*T:(r+1)*T], b.Targets[r*T:(r+1)*T], b.Weights[r*T:(r+1)*T]
				// Segments of equal weight along the row; the first prompt starts with the row's first input.
				var segs [][]int
				seg := []int{ids[0]}
				for t := range T {
					if t > 0 && (weights[t] != 0) != (weights[t-1] != 0) {
						segs, seg = append(segs, seg), nil
					}
					seg = append(seg, targets[t])
				}
				segs = append(segs, seg)
				for len(segs) >= 2 {
					prompt, completion := string(tok.Decode(segs[0])), string(tok.Decode(segs[1]))
					want, ok := completionOf[prompt]
					if !ok || completion != want+"<|endoftext|>" {
						t.Fatalf("pack=%v row %d: prompt %q is trained on %q; want a prompt of the data and its completion + <|endoftext|> (%q)",
							pack, r, prompt, completion, want+"<|endoftext|>")
					}
					examples++
					segs = segs[2:]
				}
				if len(segs) == 1 && strings.ReplaceAll(string(tok.Decode(segs[0])), "<|endoftext|>", "") != "" {
					t.Fatalf("pack=%v row %d: %q after the last completion, want padding only", pack, r, tok.Decode(segs[0]))
				}
			}
		}
		if min := 12; examples < min || (pack && examples <= min) {
			t.Errorf("pack=%v: %d examples in 3 batches of 4 rows", pack, examples)
		}
	}
}

func TestSFTValidate(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "extra.jsonl"), []byte(`{"prompt": "a", "completion": " b"}`+"\n"), 0o644)
	cfg := toySFTConfig + "    data: tasks\n    data_files: [extra.jsonl]\n    eval_data: tasks\n    eval_data_files: [extra.jsonl]\n" +
		"    method: lora\n    seq_len: 64\n"
	os.WriteFile(filepath.Join(dir, "run.yaml"), []byte(cfg), 0o644)
	writeToyCorpus(t, dir)
	_, err := pipeline.Load(filepath.Join(dir, "run.yaml"), nil)
	ps, ok := pipeline.AsProblems(err)
	if !ok {
		t.Fatalf("Load: %v, want config problems", err)
	}
	got := map[string]string{}
	for _, p := range ps {
		got[p.Path] = p.Msg
	}
	want := map[string]string{
		"stages[3].data":      "give exactly one of data (a tasks stage) and data_files",
		"stages[3].eval_data": "give at most one of eval_data (a tasks stage) and eval_data_files",
		"stages[3].method":    `"lora" is not a method; the methods are full`,
		"stages[3].seq_len":   "must be in [0, model.n_positions = 48], got 64",
	}
	for path, msg := range want {
		if got[path] != msg {
			t.Errorf("%s: got %q, want %q", path, got[path], msg)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("problems %v, want exactly %v", ps, want)
	}
}

// readSFTMetrics reads metrics.jsonl, keeping the numeric fields.
func readSFTMetrics(t *testing.T, path string) []map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]float64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var raw map[string]any
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatal(err)
		}
		rec := map[string]float64{}
		for k, v := range raw {
			if f, ok := v.(float64); ok {
				rec[k] = f
			}
		}
		out = append(out, rec)
	}
	return out
}
