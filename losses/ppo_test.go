package losses

import (
	"encoding/json"
	"strings"
	"testing"
)

// Two rows of four tokens, the last of row 2 a pad (its advantage 9 must not count), ε = 0.2, so the
// clip range is [0.8, 1.2]. Per real token, by hand (u = -A·ratio, c = -A·clip(ratio)):
//
//	A=1    ratio e^0.3  = 1.349859  u=-1.349859 c=-1.2      clipped
//	A=-0.5 ratio 1                 u= 0.5      c= 0.5      unclipped, grad 0.5/7 = 0.071429
//	A=-2   ratio e^-0.5 = 0.606531  u= 1.213061 c= 1.6      clipped
//	A=0.7  ratio e^0.6  = 1.822119  u=-1.275483 c=-0.84     clipped
//	A=0.3  ratio e^-0.2 = 0.818731  u=-0.245619 c=-0.245619 unclipped, grad -0.245619/7 = -0.035088
//	A=1.5  ratio e^0.5  = 1.648721  u=-2.473082 c=-1.8      clipped
//	A=2    ratio e^-0.7 = 0.496585  u=-0.993171 c=-1.6      unclipped (outside the range: the
//	                                                        pessimistic term), grad -0.993171/7
//
// loss = (-1.2 + 0.5 + 1.6 - 0.84 - 0.245619 - 1.8 - 0.993171)/7 = -2.978790/7 = -0.425541;
// clipfrac 4/7; approxkl = 0.5·(0.09 + 0 + 0.25 + 0.36 + 0.04 + 0.25 + 0.49)/7 = 0.105714.
// The full-precision numbers are PyTorch's, running TRL's loss section with autograd.
func TestPPOClipHandExample(t *testing.T) {
	logpNew := []float64{-1, -0.5, -2, -0.3, -1.2, -0.1, -1.4, 0}
	logpOld := []float64{-1.3, -0.5, -1.5, -0.9, -1, -0.6, -0.7, 0}
	adv := []float64{1, -0.5, -2, 0.7, 0.3, 1.5, 2, 9}
	mask := []bool{true, true, true, true, true, true, true, false}
	d := make([]float64, 8)
	m, err := PPOClip(logpNew, logpOld, adv, mask, 0.2, d)
	if err != nil {
		t.Fatal(err)
	}
	want := PPOMetrics{Loss: -0.4255414047866019, ClipFrac: 4.0 / 7, ApproxKL: 0.10571428571428573, Ratio: 1.1060779421783808}
	if !near(m.Loss, want.Loss, 1e-12) || !near(m.ClipFrac, want.ClipFrac, 1e-15) || !near(m.ApproxKL, want.ApproxKL, 1e-12) || !near(m.Ratio, want.Ratio, 1e-12) {
		t.Errorf("metrics %+v, want %+v", m, want)
	}
	checkClose(t, "dJ/dlogp_new", d, []float64{0, 0.07142857142857142, 0, 0, -0.035088460846199224, 0, -0.14188151536897414, 0}, 1e-12)
	gradCheck(t, "PPOClip", logpNew, d, func(x []float64) float64 {
		m, _ := PPOClip(x, logpOld, adv, mask, 0.2, nil)
		return m.Loss
	})
}

// float32 slices: the same loss to float32 precision.
func TestPPOClipFloat32(t *testing.T) {
	d := make([]float32, 2)
	// Token 1: A = 1, ratio 1 -> loss -1, grad -A·ratio/1 = -1; token 2 a pad whose gradient slot is zeroed.
	d[1] = 5
	m, err := PPOClip([]float32{-0.25, -3}, []float32{-0.25, -1}, []float32{1, 1}, []bool{true, false}, 0.2, d)
	if err != nil {
		t.Fatal(err)
	}
	if m.Loss != -1 || d[0] != -1 || d[1] != 0 || m.ClipFrac != 0 || m.ApproxKL != 0 || m.Ratio != 1 {
		t.Errorf("metrics %+v gradient %v", m, d)
	}
}

func TestPPOClipRefusesBadInput(t *testing.T) {
	x := []float64{-1, -2}
	m := []bool{true, true}
	for name, err := range map[string]error{
		"lengths":    func() error { _, err := PPOClip(x, x[:1], x, m, 0.2, nil); return err }(),
		"mask":       func() error { _, err := PPOClip(x, x, x, m[:1], 0.2, nil); return err }(),
		"all pads":   func() error { _, err := PPOClip(x, x, x, []bool{false, false}, 0.2, nil); return err }(),
		"cliprange":  func() error { _, err := PPOClip(x, x, x, m, -0.1, nil); return err }(),
		"grad slots": func() error { _, err := PPOClip(x, x, x, m, 0.2, make([]float64, 1)); return err }(),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The metrics are logged under TRL PPOTrainer's names.
func TestPPOMetricNames(t *testing.T) {
	b, err := json.Marshal(PPOMetrics{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"loss/policy_avg", "policy/clipfrac_avg", "policy/approxkl_avg", "val/ratio"} {
		if !strings.Contains(string(b), `"`+k+`"`) {
			t.Errorf("%s missing from %s", k, b)
		}
	}
}
