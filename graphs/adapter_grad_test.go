package graphs

import (
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// constNode puts a fixed float64 tensor in g: a frozen input that gradCheck
// does not differentiate.
func constNode(g *gorgonia.ExprGraph, v *tensor.Dense, name string) *gorgonia.Node {
	return gorgonia.NewTensor(g, tensor.Float64, v.Dims(), gorgonia.WithShape(v.Shape()...), gorgonia.WithValue(v), gorgonia.WithName(name))
}

// TestLinearLoRAGrad: the LoRA branch's gradients (a, bl, and its share of
// dx) against finite differences, with the base weight frozen (w, b fixed
// nodes) and trained (w, b differentiated too), plain, with GELU and with a
// residual. The scale is not 1 so a missing or doubled scale fails.
func TestLinearLoRAGrad(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   LinearOpts
		res    bool
		frozen bool
	}{
		{"frozen", LinearOpts{Frozen: true}, false, true},
		{"frozen+gelu", LinearOpts{Frozen: true, GELU: true}, false, true},
		{"frozen+residual", LinearOpts{Frozen: true}, true, true},
		{"trained+gelu", LinearOpts{GELU: true}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(13, 14))
			N, C, OC, r := 6, 5, 4, 2
			w, b := randTensor(rng, 0, 0.7, C, OC), randTensor(rng, 0, 0.5, OC)
			in := []*tensor.Dense{randTensor(rng, 0, 1, N, C), randTensor(rng, 0, 0.7, r, C), randTensor(rng, 0, 0.7, OC, r)}
			if !tc.frozen {
				in = append(in, w, b)
			}
			if tc.res {
				in = append(in, randTensor(rng, 0, 1, N, OC))
			}
			gate := &LoRAGate{Scale: 1.75}
			worst := gradCheck(t, in, func(g *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error) {
				wn, bn := constNode(g, w, "w"), constNode(g, b, "b")
				if !tc.frozen {
					wn, bn = xs[3], xs[4]
				}
				var res *gorgonia.Node
				if tc.res {
					res = xs[len(xs)-1]
				}
				return LinearLoRA(xs[0], wn, bn, res, xs[1], xs[2], gate, tc.opts)
			}, 1e-6)
			t.Logf("worst relative error %.2g", worst)
		})
	}
}

// TestPrefixAttentionGrad: d qkv and d prefix against finite differences,
// for the middle layer of three (so the prefix's other columns must get 0).
func TestPrefixAttentionGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	B, T, NH, C, P, L := 2, 3, 2, 4, 2, 3
	in := []*tensor.Dense{randTensor(rng, 0, 1, B*T, 3*C), randTensor(rng, 0, 1, P, 2*L*C)}
	worst := gradCheck(t, in, func(g *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error) {
		return PrefixAttention(xs[0], xs[1], 1, B, T, NH)
	}, 1e-6)
	t.Logf("worst relative error %.2g", worst)
}

// TestVirtualEmbeddingGrad: the prompt's gradient (the tables are frozen
// constants) against finite differences, through a linear, attention (so
// the virtual rows reach the real ones) and DropVirtual, whose backward the
// check covers too.
func TestVirtualEmbeddingGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	V, maxT, C, B, T, P := 7, 6, 4, 2, 3, 2
	ids := []int{3, 1, 3, 6, 0, 3}
	wte, wpe := randTensor(rng, 0, 1, V, C), randTensor(rng, 0, 1, maxT, C)
	in := []*tensor.Dense{randTensor(rng, 0, 1, P, C), randTensor(rng, 0, 0.7, C, 3*C)}
	worst := gradCheck(t, in, func(g *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error) {
		x, err := VirtualEmbedding(constNode(g, wte, "wte"), constNode(g, wpe, "wpe"), xs[0], P, ids, B, T) // [B*(P+T), C]
		if err != nil {
			return nil, err
		}
		qkv, err := Linear(x, xs[1], nil, nil, LinearOpts{})
		if err != nil {
			return nil, err
		}
		y, err := CausalAttention(qkv, B, P+T, 2)
		if err != nil {
			return nil, err
		}
		return DropVirtual(y, B, P, T)
	}, 1e-6)
	t.Logf("worst relative error %.2g", worst)
}

// TestModelAdapterGrad is the whole-model finite-difference check of every
// adapter's gradients in float64 on a tiny untied config: LoRA on all four
// modules (random non-zero A and B), a prefix, and a prompt, the base
// weights fixed.
func TestModelAdapterGrad(t *testing.T) {
	cfg := NewConfig(11, 8, 8, 2, 2)
	cfg.TieWordEmbeddings = false
	base := NewParams(cfg)
	base.Init(1, 0.3)
	lora, err := NewLoRA(cfg, LoRAOptions{R: 2, Alpha: 3, TargetModules: []string{"c_attn", "c_proj", "c_fc"}}, 5)
	if err != nil {
		t.Fatal(err)
	}
	prefix, err := NewPrefix(cfg, 2, 6)
	if err != nil {
		t.Fatal(err)
	}
	prompt, err := NewPrompt(cfg, base, PromptOptions{NumVirtualTokens: 3}, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*Adapter{lora, prefix, prompt} {
		t.Run(string(a.Config.PeftType), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(21, 22))
			var inputs []*tensor.Dense
			for _, info := range a.Params.Layout {
				v := make([]float64, info.Size)
				for i, x := range a.Params.Tensor(info.Name) {
					v[i] = float64(x) + 0.3*rng.NormFloat64() // LoRA's B off 0
				}
				inputs = append(inputs, tensor.New(tensor.WithShape(info.Shape...), tensor.WithBacking(v)))
			}
			B, T := 2, 4
			ids := []int{1, 5, 10, 3, 3, 0, 7, 2}
			tg := &Targets{IDs: []int{5, 10, 3, 3, 0, 7, 2, 9}, Weights: []float32{1, 1, 0.5, 1, 0, 1, 2, 1}, Norm: 6.5}
			worst := gradCheck(t, inputs, func(g *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error) {
				baseNodes := map[string]*gorgonia.Node{}
				for _, info := range base.Layout {
					v := make([]float64, info.Size)
					for i, x := range base.Tensor(info.Name) {
						v[i] = float64(x)
					}
					baseNodes[info.Name] = constNode(g, tensor.New(tensor.WithShape(info.Shape...), tensor.WithBacking(v)), info.Name)
				}
				ag := newAdapterGraph(a, func(name string) *gorgonia.Node {
					if i, ok := a.Params.index[name]; ok {
						return xs[i]
					}
					return nil
				})
				logits, err := gptForwardWith(cfg, func(name string) *gorgonia.Node { return baseNodes[name] }, ids, B, T, ag)
				if err != nil {
					return nil, err
				}
				return SoftmaxCrossEntropy(logits, tg)
			}, 1e-5)
			t.Logf("worst relative error %.2g", worst)
		})
	}
}
