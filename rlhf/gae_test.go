package rlhf

import "testing"

// Three real steps, γ = 0.5, λ = 0.8 (γλ = 0.4), r = [0.2, 0, 1], V = [0.5, 1, 2], V after the last = 0:
//
//	t=2: δ = 1   + 0.5·0 - 2   = -1    A = -1
//	t=1: δ = 0   + 0.5·2 - 1   =  0    A = 0   + 0.4·(-1)   = -0.4
//	t=0: δ = 0.2 + 0.5·1 - 0.5 =  0.2  A = 0.2 + 0.4·(-0.4) =  0.04
//	returns = A + V = [0.54, 0.6, 1]
//
// Row 0 has a pad after (r = 5, V = 9), row 1 the same steps after a pad in front (r = V = 7): neither
// pad enters, and both get 0.
func TestGAEHandExample(t *testing.T) {
	rewards := []float64{0.2, 0, 1, 5, 7, 0.2, 0, 1}
	values := []float64{0.5, 1, 2, 9, 7, 0.5, 1, 2}
	mask := []bool{true, true, true, false, false, true, true, true}
	adv, ret := make([]float64, 8), make([]float64, 8)
	for i := range adv {
		adv[i], ret[i] = 3, 3
	}
	if err := GAE(rewards, values, mask, 4, 0.5, 0.8, adv, ret); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "advantages", adv, []float64{0.04, -0.4, -1, 0, 0, 0.04, -0.4, -1}, 1e-15)
	checkClose(t, "returns", ret, []float64{0.54, 0.6, 1, 0, 0, 0.54, 0.6, 1}, 1e-15)

	// γ = λ = 1 turns returns into the undiscounted reward-to-go: [1.2, 1, 1].
	if err := GAE(rewards[:4], values[:4], mask[:4], 4, 1, 1, adv[:4], ret[:4]); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "Monte Carlo returns", ret[:4], []float64{1.2, 1, 1, 0}, 1e-15)
}

func TestGAERefusesBadInput(t *testing.T) {
	x := []float64{1, 2}
	m := []bool{true, true}
	out := make([]float64, 2)
	for name, err := range map[string]error{
		"rows":   GAE(x, x, m, 3, 1, 1, out, out),
		"values": GAE(x, x[:1], m, 2, 1, 1, out, out),
		"gamma":  GAE(x, x, m, 2, 1.5, 1, out, out),
		"lambda": GAE(x, x, m, 2, 1, -0.1, out, out),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
