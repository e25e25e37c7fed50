package graphs

import (
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestWeightedSumGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	g := []float64{0.5, -2, 0, 1.25, 3}
	in := []*tensor.Dense{randTensor(rng, 0, 1, len(g))}
	w := gradCheck(t, in, func(_ *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error) {
		return WeightedSum(xs[0], g)
	}, 1e-7)
	t.Logf("worst relative error %.2g", w)
}

// By hand: x = (1, 2, 4), g = (0.5, -1, 0.25): s = 0.5 - 2 + 1 = -0.5, ds/dx = g. Refilling g in place
// changes the next run: g = (1, 1, 1) gives 7.
func TestWeightedSumValues(t *testing.T) {
	gr := gorgonia.NewGraph()
	x := gorgonia.NewVector(gr, tensor.Float32, gorgonia.WithShape(3), gorgonia.WithName("x"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(3), tensor.WithBacking([]float32{1, 2, 4}))))
	coef := []float64{0.5, -1, 0.25}
	s, err := WeightedSum(x, coef)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := gorgonia.Grad(s, x)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(gr)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if got := s.Value().Data().(float32); got != -0.5 {
		t.Errorf("s = %v, want -0.5", got)
	}
	if got := grads[0].Value().Data().([]float32); got[0] != 0.5 || got[1] != -1 || got[2] != 0.25 {
		t.Errorf("ds/dx = %v, want [0.5 -1 0.25]", got)
	}
	copy(coef, []float64{1, 1, 1})
	vm.Reset()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if got := s.Value().Data().(float32); got != 7 {
		t.Errorf("after refilling g: s = %v, want 7", got)
	}
	if _, err := WeightedSum(x, []float64{1, 2}); err == nil {
		t.Error("3 elements with 2 coefficients accepted")
	}
}
