package graphs

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"pipeline/safetensors"
)

// rewardFixture is a small random reward model: decoder weights from Init, a head large enough that
// the rewards differ by more than rounding.
func rewardFixture(t *testing.T, tied bool) (*Config, *Params) {
	t.Helper()
	cfg := NewConfig(11, 8, 8, 2, 2)
	cfg.TieWordEmbeddings = tied
	base := NewParams(cfg)
	base.Init(3, 0.3)
	p, err := RewardParamsFrom(cfg, base, 4, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, p
}

func TestRewardLayout(t *testing.T) {
	for _, tied := range []bool{true, false} {
		cfg, p := rewardFixture(t, tied)
		lm := NewParams(cfg)
		last := p.Layout[len(p.Layout)-1]
		if _, ok := p.Info("lm_head.weight"); ok {
			t.Errorf("tied=%v: a reward model holds lm_head.weight", tied)
		}
		// The decoder's tensors, then score.weight [1, C]: the tied LM's count plus C.
		if last.Name != ScoreWeight || !slices.Equal(last.Shape, []int{1, cfg.NEmbd}) ||
			len(p.Data) != NumParams(NewConfig(11, 8, 8, 2, 2))+cfg.NEmbd {
			t.Errorf("tied=%v: last tensor %+v, %d parameters", tied, last, len(p.Data))
		}
		// Every decoder tensor sits where the language model's store has it.
		for _, info := range p.Layout[:len(p.Layout)-1] {
			if l, _ := lm.Info(info.Name); l.Offset != info.Offset || !slices.Equal(l.Shape, info.Shape) {
				t.Errorf("tied=%v: %s at %d %v, the language model has it at %d %v", tied, info.Name, info.Offset, info.Shape, l.Offset, l.Shape)
			}
		}
	}
}

// A reward model is built only over a reward store, and trains on whole pairs.
func TestNewRewardModelRefuses(t *testing.T) {
	cfg, p := rewardFixture(t, true)
	if _, err := NewRewardModel(cfg, NewParams(cfg), 2, 4, false, 0); err == nil {
		t.Error("a language model's store accepted")
	}
	if _, err := NewRewardModel(cfg, p, 3, 4, true, 0); err == nil {
		t.Error("a training model of 3 rows accepted")
	}
	if _, err := NewRewardModel(cfg, p, 2, cfg.NPositions+1, false, 0); err == nil {
		t.Error("rows longer than n_positions accepted")
	}
}

// The score of each row is read at its last real token, which Batch.Last finds from the mask. Here
// the pad is <|endoftext|> (id 0), the prompt of row 0 holds an <|endoftext|> too, and every response
// ends with one: a head that looked for the first pad would read row 0 at position 0 and row 1 at
// position 2. Each score must equal that of the row's tokens run alone, unpadded, with the head at
// their last position: causal attention keeps padding out of every real position.
func TestRewardReadsLastRealToken(t *testing.T) {
	cfg, p := rewardFixture(t, true)
	const eot, T = 0, 8
	rows := [][]int{
		{5, 0, 7, 3, 0},       // prompt "5 <eot> 7", response "3 <eot>"
		{4, 9, 2, 6, 1, 8, 0}, // one pad position
		{2, 0},                // a response that is only <eot>
	}
	ids := make([]int, 0, len(rows)*T)
	last := make([]int, len(rows))
	for b, r := range rows {
		row := slices.Repeat([]int{eot}, T)
		copy(row, r)
		ids = append(ids, row...)
		last[b] = len(r) - 1
	}
	m, err := NewRewardModel(cfg, p, len(rows), T, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, err := m.Score(ids, last)
	if err != nil {
		t.Fatal(err)
	}
	w := p.Tensor(ScoreWeight)
	for b, r := range rows {
		h := hiddenAlone(t, cfg, p, r)
		want, firstPad := dot(h[len(r)-1], w), dot(h[slices.Index(r, eot)], w)
		if math.Abs(float64(got[b])-want) > 1e-5 {
			t.Errorf("row %d: score %.6f, want %.6f (the row alone, read at its last token)", b, got[b], want)
		}
		if b == 0 && math.Abs(want-firstPad) < 1e-3 {
			t.Errorf("row 0: the fixture cannot tell the last token (%.6f) from the first <eot> (%.6f)", want, firstPad)
		}
	}
}

// hiddenAlone runs gptHidden on one unpadded row and returns its hidden states, one slice per position.
func hiddenAlone(t *testing.T, cfg *Config, p *Params, ids []int) [][]float32 {
	t.Helper()
	g := gorgonia.NewGraph()
	w := func(name string) *gorgonia.Node {
		info, _ := p.Info(name)
		v := tensor.New(tensor.WithShape(info.Shape...), tensor.WithBacking(p.Tensor(name)))
		return gorgonia.NewTensor(g, tensor.Float32, len(info.Shape), gorgonia.WithShape(info.Shape...), gorgonia.WithName(name), gorgonia.WithValue(v))
	}
	h, err := gptHidden(cfg, w, ids, 1, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	flat := h.Value().Data().([]float32)
	out := make([][]float32, len(ids))
	for i := range out {
		out[i] = flat[i*cfg.NEmbd : (i+1)*cfg.NEmbd]
	}
	return out
}

func dot(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// The whole reward model, decoder through head and pair loss, against float64 finite differences; and
// the float32 training model's Step gives the same gradient to float32 precision.
func TestRewardModelGrad(t *testing.T) {
	cfg, p := rewardFixture(t, true)
	rng := rand.New(rand.NewPCG(19, 20))
	for i := range p.Data {
		p.Data[i] += float32(0.1 * rng.NormFloat64()) // move gains off 1, biases off 0
	}
	const R, T, center = 4, 5, 0.01
	ids := []int{1, 5, 10, 3, 3, 0, 7, 2, 9, 4, 6, 6, 1, 0, 0, 8, 2, 2, 5, 0}
	last := []int{4, 1, 3, 4}
	inputs := float64Inputs(p)
	build := func(g *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error) {
		w := func(name string) *gorgonia.Node { return xs[p.index[name]] }
		h, err := gptHidden(cfg, w, ids, R, T)
		if err != nil {
			return nil, err
		}
		r, err := ScoreHead(h, w(ScoreWeight), last, T)
		if err != nil {
			return nil, err
		}
		l, err := PairLoss(r, center)
		if err != nil {
			return nil, err
		}
		return l.Node, nil
	}
	worst := gradCheck(t, inputs, build, 1e-5)
	t.Logf("float64 worst relative error %.2g", worst)

	// The float32 training model against the float64 graph's gradient.
	ref := symbolicGrad(t, float64Inputs(p), build)
	m, err := NewRewardModel(cfg, p, R, T, true, center)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Step(ids, last); err != nil {
		t.Fatal(err)
	}
	maxAbs, maxDiff := 0.0, 0.0
	for i, g := range p.Grad {
		maxAbs = math.Max(maxAbs, math.Abs(ref[i]))
		maxDiff = math.Max(maxDiff, math.Abs(float64(g)-ref[i]))
	}
	if maxAbs == 0 || maxDiff > 1e-4*maxAbs {
		t.Errorf("float32 Step gradient differs from float64 by %.3g (largest gradient %.3g)", maxDiff, maxAbs)
	}
	if g := p.GradOf(ScoreWeight); slices.Equal(g, make([]float32, len(g))) {
		t.Error("no gradient on score.weight")
	}
}

// float64Inputs copies every tensor of the store into a float64 tensor.
func float64Inputs(p *Params) []*tensor.Dense {
	var out []*tensor.Dense
	for _, info := range p.Layout {
		v := make([]float64, info.Size)
		for i, x := range p.Tensor(info.Name) {
			v[i] = float64(x)
		}
		out = append(out, tensor.New(tensor.WithShape(info.Shape...), tensor.WithBacking(v)))
	}
	return out
}

// symbolicGrad runs build's scalar on inputs and returns its gradient, the inputs' gradients one after
// another (the store's layout when inputs come from float64Inputs).
func symbolicGrad(t *testing.T, inputs []*tensor.Dense, build func(g *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error)) []float64 {
	t.Helper()
	g := gorgonia.NewGraph()
	xs := inputNodes(g, inputs)
	loss, err := build(g, xs)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := gorgonia.Grad(loss, xs...)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, gn := range grads {
		out = append(out, gn.Value().Data().([]float64)...)
	}
	return out
}

// A reward checkpoint is what transformers' GPT2ForSequenceClassification saves: "transformer."
// names, score.weight [1, C], one label, the pad id; it loads back to the same bytes, and is refused
// where a language model is expected and the other way round.
func TestRewardCheckpointRoundTrip(t *testing.T) {
	cfg, p := rewardFixture(t, false)
	dir := t.TempDir()
	if err := SaveReward(dir, cfg, p, 7); err != nil {
		t.Fatal(err)
	}
	var conf map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(conf["architectures"]) != "[GPT2ForSequenceClassification]" || conf["num_labels"] != 1.0 ||
		conf["pad_token_id"] != 7.0 || fmt.Sprint(conf["id2label"]) != "map[0:LABEL_0]" || conf["n_embd"] != 8.0 {
		t.Errorf("config.json: %s", b)
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"transformer.wte.weight", "transformer.h.1.mlp.c_proj.bias", "transformer.ln_f.bias", "score.weight"} {
		if _, ok := f.Tensors[name]; !ok {
			t.Errorf("no tensor %s", name)
		}
	}
	if len(f.Tensors) != len(p.Layout) || !slices.Equal(f.Tensors["score.weight"].Shape, []int{1, 8}) {
		t.Errorf("%d tensors, score.weight %v", len(f.Tensors), f.Tensors["score.weight"].Shape)
	}
	cfg2, p2, err := LoadReward(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg2.NEmbd != cfg.NEmbd || cfg2.NLayer != cfg.NLayer || !slices.Equal(p2.Data, p.Data) {
		t.Error("the loaded reward model differs from the saved one")
	}
	if _, _, err := Load(dir); err == nil {
		t.Error("a reward checkpoint loaded as a language model")
	}
	lm := t.TempDir()
	base := NewParams(cfg)
	if err := Save(lm, cfg, base); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadReward(lm); err == nil || !strings.Contains(err.Error(), "not a reward model") {
		t.Errorf("a language model loaded as a reward model: %v", err)
	}
}
