package rlhf

import (
	"math"
	"testing"
)

// Real x = [1, 2, 3, 6]: μ = 3, deviations [-2, -1, 0, 3], Σd² = 14, Bessel σ² = 14/3, σ = 2.160247:
// whitened [-0.925820, -0.462910, 0, 1.388730] (PyTorch, TRL's masked_whiten: the 1e-8 included);
// with shift_mean false each gets +3 back. The pad's 100 is neither counted nor kept.
func TestWhitenHandExample(t *testing.T) {
	want := []float64{-0.9258200987806015, -0.4629100493903007, 0, 0, 1.3887301481709022}
	mask := []bool{true, true, true, false, true}
	x := []float64{1, 2, 3, 100, 6}
	if err := Whiten(x, mask, true); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "whitened", x, want, 1e-12)

	y := []float32{1, 2, 3, 100, 6}
	if err := Whiten(y, mask, false); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "whitened, mean kept", y, []float64{want[0] + 3, want[1] + 3, 3, 0, want[4] + 3}, 1e-6)
}

// A constant batch has σ = 0: the 1e-8 keeps the result finite (all 0).
func TestWhitenConstant(t *testing.T) {
	x := []float64{2, 2, 2}
	if err := Whiten(x, []bool{true, true, true}, true); err != nil {
		t.Fatal(err)
	}
	for i, v := range x {
		if v != 0 || math.IsNaN(v) {
			t.Errorf("x[%d] = %g, want 0", i, v)
		}
	}
}

func TestWhitenRefusesFewerThanTwo(t *testing.T) {
	if err := Whiten([]float64{1, 2}, []bool{true, false}, true); err == nil {
		t.Error("one real position must be refused (Bessel divides by n-1 = 0)")
	}
	if err := Whiten([]float64{1, 2}, []bool{true}, true); err == nil {
		t.Error("a mask of the wrong length must be refused")
	}
}
