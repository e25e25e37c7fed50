package graphs

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

var allModules = []string{"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"}

// modelLogits builds a forward model (with adapter a, or none) and returns
// a copy of its logits on ids [B*T].
func modelLogits(t *testing.T, cfg *Config, p *Params, a *Adapter, ids []int, B, T int) []float32 {
	t.Helper()
	m, err := NewModelWith(cfg, p, B, T, ModelOptions{Adapter: a})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	logits, err := m.Forward(ids)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Clone(logits)
}

// maxAbsDiff is max |a - b| over two equal-length slices.
func maxAbsDiff(t *testing.T, a, b []float32) float64 {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("lengths %d and %d", len(a), len(b))
	}
	worst := 0.0
	for i := range a {
		worst = math.Max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	return worst
}

// randomizeLoRA gives every A and B of a N(0, std) values from seed.
func randomizeLoRA(a *Adapter, seed uint64, std float64) {
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := range a.Params.Data {
		a.Params.Data[i] = float32(std * rng.NormFloat64())
	}
}

// TestLoRAStartsAtBase: with B = 0 the adapted model's loss and logits equal
// the base model's bit for bit; Step fills the adapter's gradient (dB != 0,
// dA = 0 exactly since B = 0) and leaves the base's gradient slab alone.
func TestLoRAStartsAtBase(t *testing.T) {
	cfg, p, err := Load(goldenDir(t))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, _ := golden(t)
	B, T := len(rows), len(rows[0])
	ids, targets, weights, norm := nextTokenBatch(rows)
	base, err := NewModel(cfg, p, B, T, false)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	wantLoss, err := base.Eval(ids, targets, weights, norm)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(base.Logits())

	a, err := NewLoRA(cfg, LoRAOptions{R: 4, Alpha: 8, TargetModules: allModules}, 1)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModelWith(cfg, p, B, T, ModelOptions{Train: true, Adapter: a})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := range p.Grad {
		p.Grad[i] = 7
	}
	loss, err := m.Step(ids, targets, weights, norm)
	if err != nil {
		t.Fatal(err)
	}
	if loss != wantLoss {
		t.Errorf("loss %v, base %v", loss, wantLoss)
	}
	for i, v := range m.Logits() {
		if v != want[i] {
			t.Fatalf("logit %d: %v, base %v", i, v, want[i])
		}
	}
	for i, g := range p.Grad {
		if g != 7 {
			t.Fatalf("base gradient %d written (%v)", i, g)
		}
	}
	for _, info := range a.Params.Layout {
		var norm2 float64
		for _, g := range a.Params.GradOf(info.Name) {
			norm2 += float64(g) * float64(g)
		}
		isA := strings.HasSuffix(info.Name, ".lora_A.weight")
		if isA && norm2 != 0 || !isA && !(norm2 > 0) {
			t.Errorf("%s: gradient norm^2 %v", info.Name, norm2)
		}
	}
}

// TestLoRAMergeMatches: with random non-zero A and B on the golden
// checkpoint's [in, out] weights, the merged model's logits equal the
// adapter model's within 1e-5, and both differ clearly from the base.
func TestLoRAMergeMatches(t *testing.T) {
	cfg, p, err := Load(goldenDir(t))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, _ := golden(t)
	ids, _, _, _ := nextTokenBatch(rows)
	B, T := len(rows), len(rows[0])
	a, err := NewLoRA(cfg, LoRAOptions{R: 3, Alpha: 5, TargetModules: allModules}, 2)
	if err != nil {
		t.Fatal(err)
	}
	randomizeLoRA(a, 3, 0.2)
	merged, err := MergeLoRA(cfg, p, a)
	if err != nil {
		t.Fatal(err)
	}
	got := modelLogits(t, cfg, p, a, ids, B, T)
	want := modelLogits(t, cfg, merged, nil, ids, B, T)
	baseLogits := modelLogits(t, cfg, p, nil, ids, B, T)
	d := maxAbsDiff(t, got, want)
	if d > 1e-5 {
		t.Errorf("adapter vs merged logits differ by %.3g > 1e-5", d)
	}
	if moved := maxAbsDiff(t, got, baseLogits); moved < 1e-2 {
		t.Errorf("the adapter moved the logits by only %.3g", moved)
	}
	t.Logf("adapter vs merged: %.3g; adapter vs base: %.3g", d, maxAbsDiff(t, got, baseLogits))
}

// TestLoRAScale: the update is scaled by alpha/r: doubling alpha doubles
// every merged weight's change, halving r (same A, B rows) halves nothing
// but the scale: Scale() is alpha/r exactly.
func TestLoRAScale(t *testing.T) {
	cfg, p, err := Load(goldenDir(t))
	if err != nil {
		t.Fatal(err)
	}
	a1, err := NewLoRA(cfg, LoRAOptions{R: 4, Alpha: 6, TargetModules: []string{"c_attn"}}, 4)
	if err != nil {
		t.Fatal(err)
	}
	randomizeLoRA(a1, 5, 0.3)
	a2, err := NewLoRA(cfg, LoRAOptions{R: 4, Alpha: 12, TargetModules: []string{"c_attn"}}, 4)
	if err != nil {
		t.Fatal(err)
	}
	copy(a2.Params.Data, a1.Params.Data)
	if a1.Scale() != 1.5 || a2.Scale() != 3 {
		t.Errorf("scales %v %v, want 1.5 and 3 (alpha/r)", a1.Scale(), a2.Scale())
	}
	m1, err := MergeLoRA(cfg, p, a1)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := MergeLoRA(cfg, p, a2)
	if err != nil {
		t.Fatal(err)
	}
	// Layer 0's c_attn by hand: dW[i,j] = s * sum_k A[k,i] B[j,k].
	A := a1.Params.Tensor(loraName(0, "attn.c_attn", "A"))
	Bm := a1.Params.Tensor(loraName(0, "attn.c_attn", "B"))
	w0, w1, w2 := p.Tensor("h.0.attn.c_attn.weight"), m1.Tensor("h.0.attn.c_attn.weight"), m2.Tensor("h.0.attn.c_attn.weight")
	C, OC, r := cfg.NEmbd, 3*cfg.NEmbd, 4
	for i := 0; i < C; i++ {
		for j := 0; j < OC; j++ {
			var dot float64
			for k := 0; k < r; k++ {
				dot += float64(A[k*C+i]) * float64(Bm[j*r+k])
			}
			d1, d2 := float64(w1[i*OC+j])-float64(w0[i*OC+j]), float64(w2[i*OC+j])-float64(w0[i*OC+j])
			if math.Abs(d1-1.5*dot) > 1e-5 || math.Abs(d2-2*d1) > 1e-5 {
				t.Fatalf("W[%d,%d]: delta %v (alpha 6) and %v (alpha 12), want %v and twice that", i, j, d1, d2, 1.5*dot)
			}
		}
	}
	// Modules not targeted are copied unchanged.
	if !slices.Equal(p.Tensor("h.1.mlp.c_fc.weight"), m1.Tensor("h.1.mlp.c_fc.weight")) {
		t.Error("an untargeted weight changed in the merge")
	}
}

// TestLoRASwitchOff: switched off, an adapted model with non-zero A, B runs
// the base model bit for bit and gives the adapter zero gradients; switched
// on again it gives its own logits back. Prefix and prompt models refuse.
func TestLoRASwitchOff(t *testing.T) {
	cfg, p, err := Load(goldenDir(t))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, _ := golden(t)
	ids, targets, weights, norm := nextTokenBatch(rows)
	B, T := len(rows), len(rows[0])
	a, err := NewLoRA(cfg, LoRAOptions{R: 2, Alpha: 4, TargetModules: allModules}, 6)
	if err != nil {
		t.Fatal(err)
	}
	randomizeLoRA(a, 7, 0.2)
	base := modelLogits(t, cfg, p, nil, ids, B, T)
	m, err := NewModelWith(cfg, p, B, T, ModelOptions{Train: true, Adapter: a})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Step(ids, targets, weights, norm); err != nil {
		t.Fatal(err)
	}
	on := slices.Clone(m.Logits())
	if err := m.SetAdapterEnabled(false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Step(ids, targets, weights, norm); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Logits(), base) {
		t.Error("switched off, the logits are not the base model's")
	}
	for i, g := range a.Params.Grad {
		if g != 0 {
			t.Fatalf("switched off, adapter gradient %d is %v", i, g)
		}
	}
	if err := m.SetAdapterEnabled(true); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Forward(ids); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Logits(), on) {
		t.Error("switched on again, the logits changed")
	}
	prefix, err := NewPrefix(cfg, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := NewModelWith(cfg, p, 1, 4, ModelOptions{Adapter: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	if err := pm.SetAdapterEnabled(false); err == nil {
		t.Error("a prefix model was switched off")
	}
}

// concatRows puts z before every row of ids.
func concatRows(z []int, rows [][]int) (ids []int) {
	for _, r := range rows {
		ids = append(append(ids, z...), r...)
	}
	return ids
}

// realRows cuts the logits [B, P+T, V] of a concatenated batch down to the
// rows of the real tokens [B, T, V].
func realRows(logits []float32, B, P, T, V int) (out []float32) {
	for b := 0; b < B; b++ {
		out = append(out, logits[(b*(P+T)+P)*V:(b+1)*(P+T)*V]...)
	}
	return out
}

// TestPromptIsTextPrefix: a prompt initialised from the tokens z embeds
// them exactly (wte rows), so the prompt-tuned model's logits on ids equal
// the base model's on z+ids at the real positions P.. (1e-5; the virtual
// positions take wpe[0..P-1] and the tokens wpe[P..], as PEFT + GPT-2 do).
func TestPromptIsTextPrefix(t *testing.T) {
	cfg, p, err := Load(goldenDir(t))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, _ := golden(t)
	ids, _, _, _ := nextTokenBatch(rows)
	B, T, V := len(rows), len(rows[0]), cfg.VocabSize
	z := []int{11, 40, 2}
	a, err := NewPrompt(cfg, p, PromptOptions{NumVirtualTokens: 5, InitIDs: z, InitText: "z"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	zz := []int{11, 40, 2, 11, 40} // TEXT init repeats the ids to P, as PEFT does
	got := modelLogits(t, cfg, p, a, ids, B, T)
	want := realRows(modelLogits(t, cfg, p, nil, concatRows(zz, rows), B, len(zz)+T), B, len(zz), T, V)
	if d := maxAbsDiff(t, got, want); d > 1e-5 {
		t.Errorf("prompt model vs base on z+ids: %.3g > 1e-5", d)
	}
	if _, err := NewModelWith(cfg, p, B, cfg.NPositions-4, ModelOptions{Adapter: a}); err == nil {
		t.Error("a model of P+T > n_positions was built")
	}
}

// TestPrefixIsCachedKeys: a prefix holding the keys and values the base
// model computes for tokens z (read from the decoder's cache, each layer at
// PEFT's columns 2l*C and (2l+1)*C) makes the prefix-tuned model's logits on
// ids equal the base model's on z+ids at positions P.. (1e-5): the layout,
// the attention over [prefix; sequence] and the positions P.. are PEFT's.
func TestPrefixIsCachedKeys(t *testing.T) {
	cfg, p, err := Load(goldenDir(t))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, _ := golden(t)
	ids, _, _, _ := nextTokenBatch(rows)
	B, T, V, C, L := len(rows), len(rows[0]), cfg.VocabSize, cfg.NEmbd, cfg.NLayer
	z := []int{5, 60, 23, 1}
	P := len(z)
	d := newDecoder(t, cfg, p)
	if _, err := d.Feed(z); err != nil {
		t.Fatal(err)
	}
	a, err := NewPrefix(cfg, P, 1)
	if err != nil {
		t.Fatal(err)
	}
	pre, Tn := a.Params.Tensor(promptEmbeddings), cfg.NPositions
	for l := 0; l < L; l++ {
		for s := 0; s < P; s++ {
			copy(pre[s*2*L*C+2*l*C:], d.cache[(2*l)*Tn*C+s*C:(2*l)*Tn*C+(s+1)*C])
			copy(pre[s*2*L*C+(2*l+1)*C:], d.cache[(2*l+1)*Tn*C+s*C:(2*l+1)*Tn*C+(s+1)*C])
		}
	}
	got := modelLogits(t, cfg, p, a, ids, B, T)
	want := realRows(modelLogits(t, cfg, p, nil, concatRows(z, rows), B, P+T), B, P, T, V)
	if d := maxAbsDiff(t, got, want); d > 1e-5 {
		t.Errorf("prefix model vs base on z+ids: %.3g > 1e-5", d)
	}
}

// TestAdapterDecoder: the decoder with a prefix or a prompt adapter gives,
// one token at a time, the adapter model's full-forward logits (see
// checkSame); Len counts the virtual positions; after the adapter's values
// change, Reset picks them up. A LoRA adapter is refused (merge it).
func TestAdapterDecoder(t *testing.T) {
	cfg, p := randomModel(t)
	V := cfg.VocabSize
	ids := randomIDs(20, V, 9)
	prefix, err := NewPrefix(cfg, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	prompt, err := NewPrompt(cfg, p, PromptOptions{NumVirtualTokens: 70}, 3) // > decodeChunk: two chunks
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*Adapter{prefix, prompt} {
		n := min(len(ids), cfg.NPositions-a.Virtual())
		want := modelLogits(t, cfg, p, a, ids[:n], 1, n)
		d, err := NewDecoderWith(cfg, p, a)
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != a.Virtual() {
			t.Errorf("%s: Len %d after Reset, want %d", a.Config.PeftType, d.Len(), a.Virtual())
		}
		worst := 0.0
		for i, id := range ids[:n] {
			got, err := d.Feed([]int{id})
			if err != nil {
				t.Fatal(err)
			}
			worst = math.Max(worst, checkSame(t, string(a.Config.PeftType), got, want[i*V:(i+1)*V]))
		}
		t.Logf("%s (%s): worst difference from the full forward %.3g", a.Config.PeftType, BLASName, worst)
		for i := range a.Params.Data {
			a.Params.Data[i] *= 0.5
		}
		want = modelLogits(t, cfg, p, a, ids[:n], 1, n)
		d.Reset()
		got, err := d.Feed(ids[:n])
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, string(a.Config.PeftType)+" after an update", got, want[(n-1)*V:])
	}
	lora, err := NewLoRA(cfg, LoRAOptions{R: 2, Alpha: 2, TargetModules: allModules}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewDecoderWith(cfg, p, lora); err == nil {
		t.Error("the decoder took a LoRA adapter")
	}
}

// TestAdapterStepMatchesFloat64: Model.Step's float32 adapter gradients
// (what the optimiser reads from Adapter.Params.Grad) agree with the float64
// graph's within 1e-4 of each tensor's norm, for every method.
func TestAdapterStepMatchesFloat64(t *testing.T) {
	cfg := NewConfig(64, 32, 32, 2, 4)
	p := NewParams(cfg)
	p.Init(3, 0.1)
	lora, _ := NewLoRA(cfg, LoRAOptions{R: 4, Alpha: 8, TargetModules: allModules}, 1)
	randomizeLoRA(lora, 2, 0.1)
	prefix, _ := NewPrefix(cfg, 4, 3)
	prompt, _ := NewPrompt(cfg, p, PromptOptions{NumVirtualTokens: 4}, 4)
	B, T := 3, 16
	rng := rand.New(rand.NewPCG(8, 8))
	ids, targets, weights := make([]int, B*T), make([]int, B*T), make([]float32, B*T)
	for i := range ids {
		ids[i], targets[i], weights[i] = rng.IntN(64), rng.IntN(64), 1
	}
	for _, a := range []*Adapter{lora, prefix, prompt} {
		t.Run(string(a.Config.PeftType), func(t *testing.T) {
			m, err := NewModelWith(cfg, p, B, T, ModelOptions{Train: true, Adapter: a})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if _, err := m.Step(ids, targets, weights, float32(B*T)); err != nil {
				t.Fatal(err)
			}
			g := gorgonia.NewGraph()
			to64 := func(s *Params) map[string]*gorgonia.Node {
				out := map[string]*gorgonia.Node{}
				for _, info := range s.Layout {
					v := make([]float64, info.Size)
					for i, x := range s.Tensor(info.Name) {
						v[i] = float64(x)
					}
					out[info.Name] = constNode(g, tensor.New(tensor.WithShape(info.Shape...), tensor.WithBacking(v)), info.Name)
				}
				return out
			}
			base, ad := to64(p), to64(a.Params)
			logits, err := gptForwardWith(cfg, func(n string) *gorgonia.Node { return base[n] }, ids, B, T,
				newAdapterGraph(a, func(n string) *gorgonia.Node { return ad[n] }))
			if err != nil {
				t.Fatal(err)
			}
			loss, err := SoftmaxCrossEntropy(logits, &Targets{IDs: targets, Weights: weights, Norm: float64(B * T)})
			if err != nil {
				t.Fatal(err)
			}
			var wrt gorgonia.Nodes
			for _, info := range a.Params.Layout {
				wrt = append(wrt, ad[info.Name])
			}
			grads, err := gorgonia.Grad(loss, wrt...)
			if err != nil {
				t.Fatal(err)
			}
			vm := gorgonia.NewTapeMachine(g)
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			for i, info := range a.Params.Layout {
				checkNearFloat64(t, info.Name, a.Params.GradOf(info.Name), grads[i].Value().Data().([]float64))
			}
		})
	}
}

// TestAdapterGraphOps: adapter graphs, too, hold only our ops, the constant
// that seeds the gradient and Gorgonia's elementwise add (the prefix's
// gradient summed over layers), and no gradient of a base weight is built.
func TestAdapterGraphOps(t *testing.T) {
	cfg := NewConfig(64, 16, 32, 2, 4)
	p := NewParams(cfg)
	lora, _ := NewLoRA(cfg, LoRAOptions{R: 2, Alpha: 2, TargetModules: allModules}, 1)
	prefix, _ := NewPrefix(cfg, 2, 1)
	prompt, _ := NewPrompt(cfg, p, PromptOptions{NumVirtualTokens: 2}, 1)
	for _, a := range []*Adapter{lora, prefix, prompt} {
		m, err := NewModelWith(cfg, p, 2, 8, ModelOptions{Train: true, Adapter: a})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range m.g.AllNodes() {
			switch op := n.Op().(type) {
			case nil, *embeddingOp, *embeddingDiffOp, *layerNormOp, *layerNormDiffOp, *linearOp, *linearDiffOp,
				*attentionOp, *attentionDiffOp, *crossEntropyOp, *crossEntropyDiffOp, *dropVirtualOp:
			case *gradPartOp:
				if op.name == "LinearDiff.dw" || op.name == "LinearDiff.db" || op.name == "EmbeddingDiff.dwpe" {
					t.Errorf("%s: a base weight's gradient %s is built", a.Config.PeftType, op.name)
				}
			default:
				if s := op.String(); s != "+ false" && s != "const 1" {
					t.Errorf("%s: node %v runs Gorgonia's op %q", a.Config.PeftType, n, s)
				}
			}
		}
		m.Close()
	}
}
