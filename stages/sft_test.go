package stages

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pipeline/evaluate"
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
	return runToySFTConfig(t, dir, toySFTConfig+sftOptions, stopAt)
}

// runToySFTConfig is runToySFT with the whole config given.
func runToySFTConfig(t *testing.T, dir, config string, stopAt int) (string, error) {
	t.Helper()
	writeToyCorpus(t, dir)
	return runToyConfig(t, dir, config, &testHookSFTStep, stopAt)
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
	recs := readMetrics(t, filepath.Join(out, "metrics.jsonl"))
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

	// Chat data trains too, and a malformed line fails the config's validation naming file, line and
	// field, so nothing runs and the good output stays.
	chat := `{"messages": [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4"}]}` + "\n" +
		`{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "And 3 + 3?"}, {"role": "assistant", "content": "6"}]}` + "\n"
	os.WriteFile(filepath.Join(dir, "chat.jsonl"), []byte(chat), 0o644)
	if log, err := runToySFT(t, dir, "    data_files: [chat.jsonl]\n", -1); err != nil {
		t.Fatalf("chat data: %v\n%s", err, log)
	}
	os.WriteFile(filepath.Join(dir, "bad.jsonl"), []byte(`{"prompt": "a", "completion": " b"}`+"\n"+`{"prompt": "c", "completion": 7}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "run.yaml"), []byte(toySFTConfig+"    data_files: [bad.jsonl]\n"), 0o644)
	if _, err := pipeline.Load(filepath.Join(dir, "run.yaml"), nil); err == nil ||
		!strings.Contains(err.Error(), `stages[3].data_files: `+filepath.Join(dir, "bad.jsonl")+`:2: field "completion": want a string, got a number`) {
		t.Errorf("Load: %v, want the line and field of the fault", err)
	}
	if _, _, err := graphs.Load(out); err != nil {
		t.Errorf("the previous output is gone: %v", err)
	}
}

// An sft stopped at step k and resumed ends with the same bytes as one never stopped: the model's weights,
// or the adapter's, whose slab and AdamW state are what the checkpoints hold.
func TestSFTResumeIsBitExact(t *testing.T) {
	for _, c := range []struct{ method, file string }{
		{"full", graphs.ModelFile},
		{"lora", graphs.AdapterModelFile},
		{"prompt", graphs.AdapterModelFile},
	} {
		t.Run(c.method, func(t *testing.T) {
			opts := sftFromTasks + "    pack: true\n    method: " + c.method + "\n    prompt: {num_virtual_tokens: 4}\n"
			straight := t.TempDir()
			if log, err := runToySFT(t, straight, opts, -1); err != nil {
				t.Fatalf("%v\n%s", err, log)
			}
			want, err := os.ReadFile(filepath.Join(straight, "out/toy/sft", c.file))
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
				got, err := os.ReadFile(filepath.Join(dir, "out/toy/sft", c.file))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("k=%d: resumed weights differ from the uninterrupted run", k)
				}
			}
		})
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
		"    method: qlora\n    seq_len: 64\n    task_names: [verse_choice]\n"
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
		"stages[3].data":       "give exactly one of data (a tasks stage) and data_files",
		"stages[3].eval_data":  "give at most one of eval_data (a tasks stage) and eval_data_files",
		"stages[3].method":     `"qlora" is not a method; the methods are full, lora, prefix, prompt`,
		"stages[3].seq_len":    "must be in [0, model.n_positions = 48], got 64",
		"stages[3].task_names": `stage "tasks" does not generate "verse_choice" (it makes [arithmetic])`,
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

// Each method's options are checked when it is chosen, and only then; prefix and prompt tuning leave
// n_positions - num_virtual_tokens positions to a row.
func TestSFTValidateMethodOptions(t *testing.T) {
	for _, c := range []struct {
		opts string
		want map[string]string
	}{
		{"    method: lora\n    lora: {r: 0, alpha: 0, dropout: 0.1, target_modules: [attn.c_attn, mlp.fc, attn.c_attn]}\n", map[string]string{
			"lora.r":              "must be positive, got 0",
			"lora.alpha":          "must be > 0, got 0",
			"lora.dropout":        "only 0 is supported (the graph has no dropout), got 0.1",
			"lora.target_modules": `"mlp.fc" is not one of attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj; "attn.c_attn" is named twice`,
		}},
		{"    method: lora\n    lora: {target_modules: []}\n", map[string]string{
			"lora.target_modules": "name at least one of attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj",
		}},
		{"    method: prefix\n    prefix: {num_virtual_tokens: 48}\n", map[string]string{
			"prefix.num_virtual_tokens": "must be in [1, model.n_positions = 48), got 48",
		}},
		{"    method: prompt\n    prompt: {num_virtual_tokens: 16}\n    seq_len: 33\n", map[string]string{
			"seq_len": "must be in [0, model.n_positions - prompt.num_virtual_tokens = 32], got 33",
		}},
		// Another method's options are not checked, and a row of 48 fits full fine-tuning.
		{"    method: full\n    lora: {r: 0}\n    prefix: {num_virtual_tokens: 0}\n    seq_len: 48\n", map[string]string{}},
		{"    method: prompt\n    prompt: {num_virtual_tokens: 16, init_text: \"Answer:\"}\n    seq_len: 32\n", map[string]string{}},
	} {
		dir := t.TempDir()
		writeToyCorpus(t, dir)
		os.WriteFile(filepath.Join(dir, "run.yaml"), []byte(toySFTConfig+sftFromTasks+c.opts), 0o644)
		_, err := pipeline.Load(filepath.Join(dir, "run.yaml"), nil)
		got := map[string]string{}
		if err != nil {
			ps, ok := pipeline.AsProblems(err)
			if !ok {
				t.Fatalf("%s: Load: %v, want config problems", c.opts, err)
			}
			for _, p := range ps { // the messages on one key joined in report order
				k := strings.TrimPrefix(p.Path, "stages[3].")
				got[k] = strings.TrimPrefix(got[k]+"; "+p.Msg, "; ")
			}
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: problems %v, want %v", c.opts, got, c.want)
		}
		for k, msg := range c.want {
			if got[k] != msg {
				t.Errorf("%s: %s: got %q, want %q", c.opts, k, got[k], msg)
			}
		}
	}
}

// toySFTEval scores the pretrained and the fine-tuned model on the tasks' eval items after the sft stage.
const toySFTEval = `  - name: eval
    kind: eval
    targets: [pretrain, sft]
    tasks: tasks
    prompting: [zero_shot]
    max_new_tokens: 4
`

// The adapter methods through the stage: each trains only its adapter (PEFT's trainable and total
// counts, computed by hand), lowers the loss, and writes PEFT's files beside the tokenizer with the init
// stage as base; loadPolicy reads the directory back, and the eval stage scores it.
func TestSFTAdapterMethods(t *testing.T) {
	// The toy model has 8880 parameters (TestSFTStage). LoRA r = 8 on every module of its one block adds
	// A [8, in] and B [out, 8]: c_attn 8*16 + 48*8, attn.c_proj 8*16 + 16*8, c_fc 8*16 + 64*8, mlp.c_proj
	// 8*64 + 16*8, 2048 in all. Prefix, P = 8: one layer's keys and values, 8 * 2*16 = 256. Prompt, P = 8:
	// 8 * 16 = 128. Prefix and prompt tuning move the model through a few vectors only: they take a
	// larger rate.
	for _, c := range []struct {
		method, opts   string
		lr             string
		peft           graphs.AdapterMethod
		trainable, all int
		percent        string
	}{
		{"lora", "    lora: {r: 8, alpha: 16}\n", "1.0e-2", graphs.LoRA, 2048, 10928, "18.74%"},
		{"prefix", "    prefix: {num_virtual_tokens: 8}\n", "1.0e-1", graphs.Prefix, 256, 9136, "2.80%"},
		{"prompt", "    prompt: {num_virtual_tokens: 8, init_text: \"What is\"}\n", "1.0e-1", graphs.Prompt, 128, 9008, "1.42%"},
	} {
		t.Run(c.method, func(t *testing.T) {
			dir := t.TempDir()
			config := strings.Replace(toySFTConfig, "lr: 1.0e-2", "lr: "+c.lr, 1)
			log, err := runToySFTConfig(t, dir, config+sftFromTasks+"    method: "+c.method+"\n"+c.opts+toySFTEval, -1)
			if err != nil {
				t.Fatalf("%v\n%s", err, log)
			}
			out := filepath.Join(dir, "out/toy/sft")
			if want := fmt.Sprintf("method %s: %d of %d parameters trainable (%s)", c.method, c.trainable, c.all, c.percent); !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
			m, err := pipeline.ReadManifest(out)
			if err != nil {
				t.Fatal(err)
			}
			if m.Summary["trainable_params"] != float64(c.trainable) || m.Summary["trainable_fraction"] != float64(c.trainable)/float64(c.all) {
				t.Errorf("summary %v, want %d trainable of %d", m.Summary, c.trainable, c.all)
			}
			// The held-out loss falls while the adapter trains. (Against the init model's it need not: a
			// random soft prompt first dilutes the toy model's attention, and 12 steps do not win that back.)
			recs := readMetrics(t, filepath.Join(out, "metrics.jsonl"))
			if v4, v12 := recs[3]["val_loss"], recs[11]["val_loss"]; !(v12 < v4) || m.Summary["val_loss"] != v12 {
				t.Errorf("held-out loss %.4f at step 4, %.4f at step 12, %v in the summary: want a fall, and the last in the summary", v4, v12, m.Summary["val_loss"])
			}

			// PEFT's files and the tokenizer; no full checkpoint.
			for _, f := range []string{"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Error(err)
				}
			}
			for _, f := range []string{"config.json", "model.safetensors"} {
				if _, err := os.Stat(filepath.Join(out, f)); err == nil {
					t.Errorf("%s written without lora.merge", f)
				}
			}
			var ac map[string]any
			b, _ := os.ReadFile(filepath.Join(out, "adapter_config.json"))
			if err := json.Unmarshal(b, &ac); err != nil {
				t.Fatal(err)
			}
			if ac["base_model_name_or_path"] != "../pretrain" || ac["peft_type"] != string(c.peft) || ac["task_type"] != "CAUSAL_LM" {
				t.Errorf("adapter_config.json = %v", ac)
			}
			p, err := loadPolicy(out)
			if err != nil {
				t.Fatal(err)
			}
			if p.adapter == nil || p.adapter.Config.PeftType != c.peft || len(p.adapter.Params.Data) != c.trainable ||
				p.baseDir != filepath.Join(dir, "out/toy/pretrain") {
				t.Errorf("loadPolicy: adapter %v, base %s", p.adapter, p.baseDir)
			}

			// The eval stage scores the adapter as a target of its own.
			var r evaluate.Report
			b, _ = os.ReadFile(filepath.Join(dir, "out/toy/eval/report.json"))
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			if len(r.Scores["sft"]["arithmetic"]) == 0 {
				t.Errorf("the report has no arithmetic score of the sft target: %v", r.Scores)
			}
		})
	}
}

// LoRA through the stage: at step 0 the method's model computes the init checkpoint's logits bit for bit
// (B = 0); after training, lora.merge's full checkpoint computes the adapted model's logits to 1e-5, and
// the trained adapter moved them.
func TestSFTLoRAStartsAtBaseAndMerges(t *testing.T) {
	dir := t.TempDir()
	log, err := runToySFT(t, dir, sftFromTasks+"    method: lora\n    lora: {r: 4, alpha: 8, merge: true}\n", -1)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	out, pre := filepath.Join(dir, "out/toy/sft"), filepath.Join(dir, "out/toy/pretrain")
	cfg, base, err := graphs.Load(pre)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(pre)
	if err != nil {
		t.Fatal(err)
	}
	const B, T = 2, 24
	ids := make([]int, B*T)
	for i := range ids {
		ids[i] = (7*i + 3) % cfg.VocabSize
	}
	forward := func(net *graphs.Model) []float32 {
		t.Helper()
		defer net.Close()
		z, err := net.Forward(ids)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Clone(z)
	}
	baseNet, err := graphs.NewModel(cfg, base, B, T, false)
	if err != nil {
		t.Fatal(err)
	}
	want := forward(baseNet)

	o := sftKind{}.Defaults().(*sftOptions)
	o.LoRA.R, o.LoRA.Alpha = 4, 8
	start, err := loraTuning(o, tuningInput{cfg: cfg, base: base, tok: tok, B: B, T: T, seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer start.close()
	got, err := start.eval.Forward(ids)
	if err != nil {
		t.Fatal(err)
	}
	if i := firstDifference(got, want); i >= 0 {
		t.Errorf("step 0: logit %d is %v with LoRA, %v in the init checkpoint", i, got[i], want[i])
	}
	if slices.Max(start.params) == 0 {
		t.Error("every A is 0: the equality says nothing")
	}

	// The trained adapter, over the init checkpoint, against the merged checkpoint.
	a, err := graphs.LoadAdapter(out, cfg)
	if err != nil {
		t.Fatal(err)
	}
	adapted, err := graphs.NewModelWith(cfg, base, B, T, graphs.ModelOptions{Adapter: a})
	if err != nil {
		t.Fatal(err)
	}
	withAdapter := forward(adapted)
	mcfg, merged, err := graphs.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	mergedNet, err := graphs.NewModel(mcfg, merged, B, T, false)
	if err != nil {
		t.Fatal(err)
	}
	fromMerged := forward(mergedNet)
	moved := 0.0
	for i := range want {
		if d := math.Abs(float64(fromMerged[i] - withAdapter[i])); !(d <= 1e-5) {
			t.Fatalf("logit %d: %v merged, %v with the adapter", i, fromMerged[i], withAdapter[i])
		}
		moved = max(moved, math.Abs(float64(withAdapter[i]-want[i])))
	}
	if moved < 0.1 {
		t.Errorf("training moved no logit by more than %g", moved)
	}
	// With merge, the directory is a full checkpoint to downstream stages.
	if p, err := loadPolicy(out); err != nil || p.adapter != nil {
		t.Errorf("loadPolicy of the merged directory: %v, %v; want a full checkpoint", p, err)
	}
}

// firstDifference is the first index where a and b differ bit for bit, or -1.
func firstDifference(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// With task_names: [arithmetic] sft trains on the tasks stage's arithmetic/sft.jsonl and holds out the
// arithmetic eval items only, though the stage also wrote verse_choice and mixed both into sft.jsonl.
func TestSFTTaskNames(t *testing.T) {
	dir := t.TempDir()
	log := runToyTwoTasks(t, dir, `  - name: sft
    kind: sft
    init: pretrain
    data: tasks
    eval_data: tasks
    task_names: [arithmetic]
    batch_size: 4
    max_steps: 2
    warmup_steps: 1
    eval_every: 2
    checkpoint_every: 2
    check_prompts: 2
`, &testHookSFTStep)
	tasksDir := filepath.Join(dir, "out/toy/tasks")
	train := jsonlLines(t, filepath.Join(tasksDir, "arithmetic/sft.jsonl"))
	evalItems := jsonlLines(t, filepath.Join(tasksDir, "arithmetic/eval.jsonl"))
	if mixed := jsonlLines(t, filepath.Join(tasksDir, "sft.jsonl")); len(mixed) != 2*len(train) {
		t.Fatalf("the mixed sft.jsonl has %d rows, arithmetic's %d: want both tasks in the fixture", len(mixed), len(train))
	}
	read := logLinesOf(log, "sft", " records, ")
	want := []string{fmt.Sprintf("tasks/arithmetic/sft.jsonl: %d records, ", len(train)),
		fmt.Sprintf("sft.partial/eval.jsonl: %d records, ", len(evalItems))}
	if len(read) != len(want) {
		t.Fatalf("sft read %q, want two files", read)
	}
	for i, w := range want {
		if !strings.Contains(read[i], w) {
			t.Errorf("sft read %q, want %q", read[i], w)
		}
	}
	heldOut := jsonlLines(t, filepath.Join(dir, "out/toy/sft/eval.jsonl"))
	if len(heldOut) != len(evalItems) {
		t.Errorf("%d held-out rows, want arithmetic's %d eval items", len(heldOut), len(evalItems))
	}
	for _, r := range append(train, heldOut...) {
		if !strings.HasPrefix(r["prompt"], "Question: What is ") {
			t.Fatalf("prompt %q is not arithmetic", r["prompt"])
		}
	}
}

// task_names is checked as eval's is, against the tasks stage that data or eval_data names.
func TestSFTValidateTaskNames(t *testing.T) {
	checkTaskNamesValidation(t, sftKind{}, func(opts any, names []string, stage string) {
		o := opts.(*sftOptions)
		o.Init, o.TaskNames, o.Data, o.EvalData = "pretrain", names, stage, stage
		if stage == "" {
			o.DataFiles = []string{"a.jsonl"}
		}
	})
	// eval_data alone names the tasks stage: that is enough.
	o := sftKind{}.Defaults().(*sftOptions)
	o.Init, o.DataFiles, o.EvalData, o.TaskNames = "pretrain", []string{"a.jsonl"}, "tasks", []string{"arithmetic"}
	sftKind{}.Validate(o, &pipeline.Config{Model: pipeline.DefaultModel()}, func(key, msg string) {
		t.Errorf("eval_data with task_names: %s: %s", key, msg)
	})
}
