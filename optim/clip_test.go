package optim

import (
	"math"
	"testing"
)

func TestClipGlobalNorm(t *testing.T) {
	// [3, 4] has norm 5; maxNorm 1 scales by 1/(5 + 1e-6) = 0.19999996 (float32), giving
	// 3*0.19999996 = 0.5999999 and 4*0.19999996 = 0.7999998 in float32.
	g := []float32{3, 4}
	if norm := ClipGlobalNorm(g, 1); norm != 5 {
		t.Errorf("norm = %v, want 5", norm)
	}
	c := float32(1 / (5 + 1e-6))
	if g[0] != 3*c || g[1] != 4*c || g[0] >= 0.6 || g[1] >= 0.8 {
		t.Errorf("clipped [3 4] to %v, want [%v %v]", g, 3*c, 4*c)
	}

	// Below the bound nothing changes, and the norm spans the whole slab: 1+4+4+16 = 25.
	g = []float32{1, -2, 2, 4}
	if norm := ClipGlobalNorm(g, 6); norm != 5 || g[0] != 1 || g[1] != -2 || g[2] != 2 || g[3] != 4 {
		t.Errorf("ClipGlobalNorm(maxNorm 6) = %v with grads %v, want 5 and [1 -2 2 4]", norm, g)
	}

	// At the bound PyTorch still scales, by 1/(1 + 1e-6): a norm > maxNorm test would not.
	g = []float32{1, 0}
	ClipGlobalNorm(g, 1)
	if want := float32(1 / (1 + 1e-6)); g[0] != want || g[0] == 1 {
		t.Errorf("norm exactly maxNorm: g[0] = %.9g, want %.9g", g[0], want)
	}

	// maxNorm 0 only measures.
	g = []float32{30, 40}
	if norm := ClipGlobalNorm(g, 0); norm != 50 || g[0] != 30 || g[1] != 40 {
		t.Errorf("ClipGlobalNorm(maxNorm 0) = %v with grads %v, want 50 and unchanged", norm, g)
	}

	// The sum is float64: 1e20^2 overflows float32, not float64.
	g = []float32{1e20, 1e20}
	if norm := ClipGlobalNorm(g, 1); math.Abs(norm-math.Sqrt2*1e20)/norm > 1e-7 || math.IsInf(float64(g[0]), 0) {
		t.Errorf("norm of [1e20 1e20] = %v, clipped to %v", norm, g)
	}
}
