package main

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"pipeline/graphs"
	"pipeline/sample"
	"pipeline/tokenizer"
)

const generateCorpus = "the cat sat on the mat. the dog sat on the log. a cat and a dog met on the mat.\n"

// generateCheckpoint writes a checkpoint directory as a pipeline stage
// leaves it: a tokenizer trained on a small text, and a random untied model
// over its vocabulary. It returns the directory, the model and the tokenizer.
func generateCheckpoint(t *testing.T) (string, *graphs.Config, *graphs.Params, *tokenizer.Tokenizer) {
	t.Helper()
	tok, err := tokenizer.Train([]string{strings.Repeat(generateCorpus, 4)},
		tokenizer.TrainOptions{VocabSize: 256 + 30 + 4, SpecialTokens: tokenizer.DefaultSpecialTokens})
	if err != nil {
		t.Fatal(err)
	}
	cfg := graphs.NewConfig(tok.VocabSize(), 40, 32, 2, 4)
	cfg.TieWordEmbeddings = false
	p := graphs.NewParams(cfg)
	p.Init(5, 0.4)
	dir := t.TempDir()
	if err := graphs.Save(dir, cfg, p); err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir, cfg, p, tok
}

// greedyByFullForward is greedy decoding without the KV cache: one full
// forward pass over the (zero-padded) context per token, stopping after n
// tokens, at stop (kept) or when the context is full.
func greedyByFullForward(t *testing.T, cfg *graphs.Config, p *graphs.Params, prompt []int, n, stop int) []int {
	t.Helper()
	T, V := cfg.NPositions, cfg.VocabSize
	m, err := graphs.NewModel(cfg, p, 1, T, false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	seq := slices.Clone(prompt)
	for len(seq) < len(prompt)+n && len(seq) <= T {
		padded := make([]int, T)
		copy(padded, seq)
		logits, err := m.Forward(padded)
		if err != nil {
			t.Fatal(err)
		}
		id, err := sample.Greedy(logits[(len(seq)-1)*V : len(seq)*V])
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, id)
		if id == stop {
			break
		}
	}
	return seq[len(prompt):]
}

func generate(t *testing.T, o generateOptions) string {
	t.Helper()
	var out bytes.Buffer
	if err := runGenerate(context.Background(), o, &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestRunGenerateGreedy: the printed text is the argmax chain of full
// forward passes, decoded; a checkpoint edited so that <|endoftext|> wins the
// 4th step stops there, without printing it; a stop string cuts the text
// before its first occurrence.
func TestRunGenerateGreedy(t *testing.T) {
	dir, cfg, p, tok := generateCheckpoint(t)
	eot, _ := tok.SpecialID(tokenizer.EndOfText)
	const prompt = "the cat"
	ids := tok.Encode(prompt)
	o := generateOptions{Checkpoint: dir, Prompt: prompt, MaxNew: 12, Sampling: sample.Options{}, Seed: 1}

	chain := greedyByFullForward(t, cfg, p, ids, 12, eot)
	if len(chain) != 12 {
		t.Fatalf("the random model's greedy chain %v stops early; pick another seed", chain)
	}
	if got, want := generate(t, o), string(tok.Decode(chain))+"\n"; got != want {
		t.Errorf("greedy printed %q, full forward passes give %q", got, want)
	}

	// A stop string: the text of generated tokens 5 and 6.
	text := string(tok.Decode(chain))
	stop := string(tok.Decode(chain[5:7]))
	s := o
	s.Stop = []string{stop}
	if got, want := generate(t, s), text[:strings.Index(text, stop)]+"\n"; got != want {
		t.Errorf("--stop %q printed %q, want %q", stop, got, want)
	}

	// <|endoftext|>'s head row becomes 1.01 x the row of the 4th greedy
	// token, which had a positive logit there: <|endoftext|> now wins step 4.
	head := p.Tensor("lm_head.weight")
	C := cfg.NEmbd
	for i, w := range head[chain[3]*C : (chain[3]+1)*C] {
		head[eot*C+i] = 1.01 * w
	}
	if err := graphs.Save(dir, cfg, p); err != nil {
		t.Fatal(err)
	}
	chain = greedyByFullForward(t, cfg, p, ids, 12, eot)
	if len(chain) != 4 || chain[3] != eot {
		t.Fatalf("edited model's greedy chain %v, want <|endoftext|> (%d) 4th", chain, eot)
	}
	if got, want := generate(t, o), string(tok.Decode(chain[:3]))+"\n"; got != want {
		t.Errorf("stopping at <|endoftext|> printed %q, want %q", got, want)
	}
}

// TestRunGenerateSeeded: sampling with the same seed prints the same text,
// another seed other text; an empty prompt starts from <|endoftext|>.
func TestRunGenerateSeeded(t *testing.T) {
	dir, _, _, _ := generateCheckpoint(t)
	o := generateOptions{Checkpoint: dir, Prompt: "a dog", MaxNew: 20, Sampling: sample.Options{Temperature: 1.5, TopK: 50, TopP: 0.95}, Seed: 7}
	a, b := generate(t, o), generate(t, o)
	if a != b {
		t.Errorf("seed 7 printed %q, then %q", a, b)
	}
	o.Seed = 8
	if c := generate(t, o); c == a {
		t.Errorf("seeds 7 and 8 both printed %q", a)
	}
	o.Prompt = ""
	if e := generate(t, o); e == "\n" {
		t.Error("an empty prompt generated nothing")
	}
}

// TestGenerateCommandFlags: the command's flags and defaults reach
// runGenerate (default sampling is temperature 0.8, top-k 0, top-p 1).
func TestGenerateCommandFlags(t *testing.T) {
	dir, _, _, _ := generateCheckpoint(t)
	cases := []struct {
		args []string
		want generateOptions
	}{
		{[]string{"--prompt", "the dog", "--seed", "3"},
			generateOptions{Prompt: "the dog", MaxNew: 64, Sampling: sample.Options{Temperature: 0.8, TopP: 1}, Seed: 3}},
		{[]string{"--prompt", "the dog", "--greedy", "--temperature", "2", "--max-new-tokens", "9", "--stop", "og", "--stop", "at"},
			generateOptions{Prompt: "the dog", MaxNew: 9, Stop: []string{"og", "at"}}},
		{[]string{"--prompt", "a cat", "--temperature", "1.2", "--top-k", "5", "--top-p", "0.5", "--seed", "9"},
			generateOptions{Prompt: "a cat", MaxNew: 64, Sampling: sample.Options{Temperature: 1.2, TopK: 5, TopP: 0.5}, Seed: 9}},
	}
	for _, c := range cases {
		var out bytes.Buffer
		app := &cli.App{Writer: &out, Commands: []*cli.Command{generateCommand()}}
		args := append([]string{"pipeline", "generate", "--checkpoint", dir}, c.args...)
		if err := app.RunContext(context.Background(), args); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		c.want.Checkpoint = dir
		if want := generate(t, c.want); out.String() != want {
			t.Errorf("%v printed %q; runGenerate(%+v) prints %q", c.args, out.String(), c.want, want)
		}
	}
}

func TestRunGenerateRejects(t *testing.T) {
	dir, cfg, _, _ := generateCheckpoint(t)
	cases := map[string]generateOptions{
		"negative --max-new-tokens": {Prompt: "a", MaxNew: -1},
		"negative --temperature":    {Prompt: "a", MaxNew: 1, Sampling: sample.Options{Temperature: -1}},
		"--top-p above 1":           {Prompt: "a", MaxNew: 1, Sampling: sample.Options{Temperature: 1, TopP: 1.5}},
		"prompt past the context":   {Prompt: strings.Repeat("x ", cfg.NPositions+1), MaxNew: 1},
	}
	for what, o := range cases {
		o.Checkpoint = dir
		if err := runGenerate(context.Background(), o, &bytes.Buffer{}); !errors.Is(err, errUsage) {
			t.Errorf("%s: %v, want a usage error", what, err)
		}
	}
	if err := runGenerate(context.Background(), generateOptions{Checkpoint: t.TempDir(), Prompt: "a", MaxNew: 1}, &bytes.Buffer{}); err == nil {
		t.Error("an empty directory was accepted as a checkpoint")
	}
}
