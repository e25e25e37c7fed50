package rlhf

import (
	"math"
	"testing"
)

// Row 0: logits [0, ln 3] give p = [1/4, 3/4], H = -(0.25 ln 0.25 + 0.75 ln 0.75) = 0.562335.
// Row 1: the same shifted by 1000, which exp would overflow without the max subtraction: same H.
// Row 2: a -Inf logit has p = 0 and changes nothing: same H.
// Row 3: uniform over 3: H = ln 3.
// Then one float32 row of V = 4, [0.5, -1, 2, 0]: 0.8782811752687325 (PyTorch: logsumexp(z) -
// Σ softmax(z)·z).
func TestEntropyHandValues(t *testing.T) {
	ln3 := math.Log(3)
	logits := []float64{
		0, ln3, math.Inf(-1),
		1000, 1000 + ln3, math.Inf(-1),
		math.Inf(-1), 0, ln3,
		7, 7, 7,
	}
	h := make([]float64, 4)
	if err := Entropy(logits, 3, h); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "H", h, []float64{0.5623351446188083, 0.5623351446188083, 0.5623351446188083, ln3}, 1e-12)

	h32 := make([]float32, 1)
	if err := Entropy([]float32{0.5, -1, 2, 0}, 4, h32); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "H float32", h32, []float64{0.8782811752687325}, 1e-6)

	if err := Entropy(logits, 5, h); err == nil {
		t.Error("logits that are not rows of V must be refused")
	}
	if err := Entropy([]float64{math.Inf(-1), math.Inf(-1)}, 2, h[:1]); err == nil {
		t.Error("a row without a finite logit has no distribution and must be refused")
	}
}
