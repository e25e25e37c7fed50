package graphs

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// pairLossRun builds PairLoss over fixed rewards of type F, runs forward and backward, and returns
// the loss, d loss / d rewards and the node.
func pairLossRun[F float32 | float64](t *testing.T, rewards []F, center float64) (float64, []F, *PairLossNode) {
	t.Helper()
	dt := tensor.Float64
	if _, ok := any(rewards).([]float32); ok {
		dt = tensor.Float32
	}
	g := gorgonia.NewGraph()
	r := gorgonia.NewVector(g, dt, gorgonia.WithShape(len(rewards)), gorgonia.WithName("r"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(len(rewards)), tensor.WithBacking(rewards))))
	loss, err := PairLoss(r, center)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := gorgonia.Grad(loss.Node, r)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	l, err := scalarOf(loss.Value())
	if err != nil {
		t.Fatal(err)
	}
	return l, append([]F(nil), grads[0].Value().Data().([]F)...), loss
}

// The Bradley-Terry values of losses, through the graph op: one pair at a time, J = softplus(-margin)
// = 0.126928 at margin 2, 2.126928 at margin -2, ln 2 = 0.693147 at margin 0; the gradient on r_w is
// -σ(-margin) = -0.119203, -0.880797, -0.5 and the opposite on r_l. Rewards are laid out chosen first.
func TestPairLossHandValues(t *testing.T) {
	for _, tc := range []struct{ w, l, loss, dw float64 }{
		{1, -1, 0.126928, -0.119203},
		{-1, 1, 2.126928, -0.880797},
		{0.3, 0.3, 0.693147, -0.5},
	} {
		l64, d64, _ := pairLossRun(t, []float64{tc.w, tc.l}, 0)
		l32, d32, _ := pairLossRun(t, []float32{float32(tc.w), float32(tc.l)}, 0)
		for _, got := range []struct {
			loss, dw, dl float64
		}{{l64, d64[0], d64[1]}, {l32, float64(d32[0]), float64(d32[1])}} {
			if math.Abs(got.loss-tc.loss) > 1e-6 || math.Abs(got.dw-tc.dw) > 1e-6 || math.Abs(got.dl+tc.dw) > 1e-6 {
				t.Errorf("margin %g: loss %.6f d(w,l) (%.6f, %.6f), want %.6f (%.6f, %.6f)",
					tc.w-tc.l, got.loss, got.dw, got.dl, tc.loss, tc.dw, -tc.dw)
			}
		}
	}
}

// A batch: the loss is the mean over pairs, the metrics count r_w > r_l strictly, and centering adds
// c·mean((r_w + r_l)²). Pairs (1.5, -0.5), (-0.3, 0.4), (0.2, 0.2), (2, -1) with c = 0.01 give TRL's
// loss 0.4983871480155294 (losses' test, computed by PyTorch).
func TestPairLossBatch(t *testing.T) {
	r := []float64{1.5, -0.3, 0.2, 2.0, -0.5, 0.4, 0.2, -1.0}
	l, d, node := pairLossRun(t, r, 0.01)
	if math.Abs(l-0.4983871480155294) > 1e-12 {
		t.Errorf("loss %.16g", l)
	}
	if math.Abs(d[0]-(-0.024800730505529386)) > 1e-12 || math.Abs(d[4]-0.034800730505529384) > 1e-12 {
		t.Errorf("dJ/dr_w,0 = %.16g, dJ/dr_l,0 = %.16g", d[0], d[4])
	}
	m := node.Metrics()
	if m.Accuracy != 0.5 || math.Abs(m.Margin-4.3/4) > 1e-12 || m.MinReward != -1 || m.MaxReward != 2 {
		t.Errorf("metrics %+v", m)
	}
}

func TestPairLossGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	in := []*tensor.Dense{randTensor(rng, 0, 1.5, 6)}
	w := gradCheck(t, in, func(g *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error) {
		l, err := PairLoss(xs[0], 0.05)
		if err != nil {
			return nil, err
		}
		return l.Node, nil
	}, 1e-6)
	t.Logf("worst relative error %.2g", w)
}

// The two ops chained, hidden states and head to the loss: 2 pairs of rows of T = 3.
func TestScoreHeadPairLossGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	T, C := 3, 4
	last := []int{2, 1, 0, 2}
	in := []*tensor.Dense{randTensor(rng, 0, 1, 4*T, C), randTensor(rng, 0, 0.5, 1, C)}
	w := gradCheck(t, in, func(g *gorgonia.ExprGraph, xs gorgonia.Nodes) (*gorgonia.Node, error) {
		r, err := ScoreHead(xs[0], xs[1], last, T)
		if err != nil {
			return nil, err
		}
		l, err := PairLoss(r, 0.01)
		if err != nil {
			return nil, err
		}
		return l.Node, nil
	}, 1e-6)
	t.Logf("worst relative error %.2g", w)
}

func TestPairLossRefuses(t *testing.T) {
	g := gorgonia.NewGraph()
	odd := gorgonia.NewVector(g, tensor.Float64, gorgonia.WithShape(3))
	if _, err := PairLoss(odd, 0); err == nil {
		t.Error("3 rewards accepted")
	}
	even := gorgonia.NewVector(g, tensor.Float64, gorgonia.WithShape(4))
	if _, err := PairLoss(even, -0.1); err == nil {
		t.Error("negative centering accepted")
	}
}
