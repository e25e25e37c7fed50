package graphs

import (
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Three rows of T = 4: the head reads position 2, 0 and 3, repeated positions across rows
// included, and every other row must get no gradient.
func TestScoreHeadGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	R, T, C := 3, 4, 5
	last := []int{2, 0, 3}
	in := []*tensor.Dense{randTensor(rng, 0, 1, R*T, C), randTensor(rng, 0, 0.7, 1, C)}
	w := gradCheck(t, in, func(g *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error) {
		return ScoreHead(xs[0], xs[1], last, T)
	}, 1e-6)
	t.Logf("worst relative error %.2g", w)
}

// The score is the dot product of score.weight with the hidden row at b*T + last[b]; by hand:
// row 0 reads hidden[1] = (1, 2), row 1 reads hidden[2] = (5, 6): with w = (0.5, -1) the scores are
// 0.5 - 2 = -1.5 and 2.5 - 6 = -3.5.
func TestScoreHeadValues(t *testing.T) {
	hidden := []float32{0, 0, 1, 2, 5, 6, 9, 9}
	last := []int{1, 0}
	g := gorgonia.NewGraph()
	h := gorgonia.NewTensor(g, tensor.Float32, 2, gorgonia.WithShape(4, 2), gorgonia.WithValue(tensor.New(tensor.WithShape(4, 2), tensor.WithBacking(hidden))))
	w := gorgonia.NewTensor(g, tensor.Float32, 2, gorgonia.WithShape(1, 2), gorgonia.WithValue(tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float32{0.5, -1}))))
	out, err := ScoreHead(h, w, last, 2)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if got := out.Value().Data().([]float32); got[0] != -1.5 || got[1] != -3.5 {
		t.Errorf("scores %v, want [-1.5 -3.5]", got)
	}
	// The positions are read on every run: moving row 0 to position 0 reads hidden[0] = (0, 0).
	last[0] = 0
	vm.Reset()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if got := out.Value().Data().([]float32); got[0] != 0 || got[1] != -3.5 {
		t.Errorf("after refilling last: scores %v, want [0 -3.5]", got)
	}
	// A position outside the row would read the next row: refused.
	last[0] = 2
	vm.Reset()
	if err := vm.RunAll(); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("position 2 of a row of 2: %v", err)
	}
}

func TestScoreHeadShapes(t *testing.T) {
	g := gorgonia.NewGraph()
	h := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(6, 4))
	for _, tc := range []struct {
		w    []int
		last []int
		T    int
	}{
		{[]int{1, 3}, []int{0, 0}, 3}, // w is not [1, C]
		{[]int{2, 4}, []int{0, 0}, 3}, // two labels
		{[]int{1, 4}, []int{0}, 3},    // 3 rows of hidden for 1 row of last
	} {
		w := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(tc.w...))
		if _, err := ScoreHead(h, w, tc.last, tc.T); err == nil {
			t.Errorf("w %v, %d rows of T=%d accepted", tc.w, len(tc.last), tc.T)
		}
	}
}
