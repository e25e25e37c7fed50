package graphs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// randTensor returns a float64 tensor of shape with N(mean, std) entries.
func randTensor(rng *rand.Rand, mean, std float64, shape ...int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = mean + std*rng.NormFloat64()
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

// inputNodes makes a float64 node x0, x1, ... in g holding each input.
func inputNodes(g *gorgonia.ExprGraph, inputs []*tensor.Dense) gorgonia.Nodes {
	xs := make(gorgonia.Nodes, len(inputs))
	for i, in := range inputs {
		xs[i] = gorgonia.NewTensor(g, tensor.Float64, in.Dims(), gorgonia.WithShape(in.Shape()...), gorgonia.WithValue(in), gorgonia.WithName(fmt.Sprintf("x%d", i)))
	}
	return xs
}

// checkNearFloat64 reports the tensor name when its float32 gradient got differs from the float64
// gradient want, at its worst element, by more than 1e-4 of want's norm.
func checkNearFloat64(t *testing.T, name string, got []float32, want []float64) {
	t.Helper()
	var norm2, maxDiff float64
	for j, x := range got {
		norm2 += want[j] * want[j]
		maxDiff = math.Max(maxDiff, math.Abs(float64(x)-want[j]))
	}
	if rel := maxDiff / math.Sqrt(norm2); !(rel <= 1e-4) {
		t.Errorf("%s: max diff %.3g is %.3g of the float64 gradient's norm", name, maxDiff, rel)
	}
}

// gradCheck is the one finite-difference checker every op test uses. It
// builds out = build(g, xs) from float64 inputs, reduces it to the scalar
// loss = sum(out ⊙ r) with a fixed random r (or takes out itself when it is a
// scalar), differentiates symbolically with gorgonia.Grad, and compares every
// element of every input's gradient with the central difference
// (L(x+h) - L(x-h)) / 2h, h = 1e-6:
//
//	|analytic - numeric| <= 1e-7 + tol * max(|analytic|, |numeric|)
//
// It returns the worst relative error seen.
func gradCheck(t *testing.T, inputs []*tensor.Dense, build func(g *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error), tol float64) float64 {
	t.Helper()
	g := gorgonia.NewGraph()
	xs := inputNodes(g, inputs)
	out, err := build(g, xs)
	if err != nil {
		t.Fatal(err)
	}
	loss := out
	if !out.IsScalar() {
		rng := rand.New(rand.NewPCG(7, 7))
		r := gorgonia.NewTensor(g, tensor.Float64, out.Dims(), gorgonia.WithShape(out.Shape()...),
			gorgonia.WithValue(randTensor(rng, 0, 1, out.Shape()...)))
		if loss, err = gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(out, r))); err != nil {
			t.Fatal(err)
		}
	}
	grads, err := gorgonia.Grad(loss, xs...)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	run := func() float64 {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return loss.Value().Data().(float64)
	}
	run()
	analytic := make([][]float64, len(xs))
	for i, gn := range grads {
		analytic[i] = append([]float64(nil), gn.Value().Data().([]float64)...)
	}
	const h = 1e-6
	worst := 0.0
	for i, in := range inputs {
		x := in.Data().([]float64)
		for j := range x {
			orig := x[j]
			x[j] = orig + h
			lp := run()
			x[j] = orig - h
			lm := run()
			x[j] = orig
			num := (lp - lm) / (2 * h)
			a := analytic[i][j]
			diff := math.Abs(a - num)
			scale := math.Max(math.Abs(a), math.Abs(num))
			if scale > 0 {
				worst = math.Max(worst, diff/math.Max(scale, 1e-3))
			}
			if diff > 1e-7+tol*scale {
				t.Errorf("input %d element %d: analytic %.10g, numeric %.10g", i, j, a, num)
			}
		}
	}
	return worst
}

func TestLayerNormGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	in := []*tensor.Dense{randTensor(rng, 0.3, 1.5, 5, 7), randTensor(rng, 1, 0.3, 7), randTensor(rng, 0, 0.3, 7)}
	w := gradCheck(t, in, func(g *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error) {
		return LayerNorm(xs[0], xs[1], xs[2], 1e-5)
	}, 1e-6)
	t.Logf("worst relative error %.2g", w)
}

func TestLinearGrad(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      LinearOpts
		bias, res bool
	}{
		{"bias", LinearOpts{}, true, false},
		{"bias+gelu", LinearOpts{GELU: true}, true, false},
		{"bias+residual", LinearOpts{}, true, true},
		{"transposed-no-bias", LinearOpts{WeightT: true}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			N, C, OC := 6, 5, 4
			wShape := []int{C, OC}
			if tc.opts.WeightT {
				wShape = []int{OC, C}
			}
			in := []*tensor.Dense{randTensor(rng, 0, 1, N, C), randTensor(rng, 0, 0.7, wShape...)}
			if tc.bias {
				in = append(in, randTensor(rng, 0, 0.5, OC))
			}
			if tc.res {
				in = append(in, randTensor(rng, 0, 1, N, OC))
			}
			w := gradCheck(t, in, func(g *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error) {
				var b, r *gorgonia.Node
				if tc.bias {
					b = xs[2]
				}
				if tc.res {
					r = xs[len(xs)-1]
				}
				return Linear(xs[0], xs[1], b, r, tc.opts)
			}, 1e-6)
			t.Logf("worst relative error %.2g", w)
		})
	}
}

func TestAttentionGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	B, T, NH, C := 2, 4, 2, 6
	in := []*tensor.Dense{randTensor(rng, 0, 1, B*T, 3*C)}
	w := gradCheck(t, in, func(g *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error) {
		return CausalAttention(xs[0], B, T, NH)
	}, 1e-6)
	t.Logf("worst relative error %.2g", w)
}

func TestEmbeddingGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	V, maxT, C, B, T := 7, 5, 3, 2, 4
	ids := []int{3, 1, 3, 6, 0, 3, 2, 2} // repeats exercise the scatter-add
	in := []*tensor.Dense{randTensor(rng, 0, 1, V, C), randTensor(rng, 0, 1, maxT, C)}
	gradCheck(t, in, func(g *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error) {
		return Embedding(xs[0], xs[1], ids, B, T)
	}, 1e-6)
}

func TestCrossEntropyGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	tg := &Targets{IDs: []int{0, 4, 2, 2, 1, 3}, Weights: []float32{1, 0.5, 0, 1, 2, 1}, Norm: 2.5}
	in := []*tensor.Dense{randTensor(rng, 0, 2, 6, 5)}
	w := gradCheck(t, in, func(g *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error) {
		return SoftmaxCrossEntropy(xs[0], tg)
	}, 1e-6)
	t.Logf("worst relative error %.2g", w)
}
