package losses

import (
	"encoding/json"
	"strings"
	"testing"
)

// Five real tokens and one pad (its return 7 must not count), εv = 0.2. By hand (Vc = clip(V, V_old
// ± 0.2), u = (V-R)², c = (Vc-R)²):
//
//	V=0.5  V_old=0.4 R=1    Vc=0.5  u=0.25 c=0.25  unclipped, grad (0.5-1)/5   = -0.1
//	V=1    V_old=0.5 R=0    Vc=0.7  u=1    c=0.49  unclipped, grad 1/5         =  0.2
//	V=-0.2 V_old=0   R=0.1  Vc=-0.2 u=0.09 c=0.09  unclipped, grad -0.3/5      = -0.06
//	V=2    V_old=1   R=2.5  Vc=1.2  u=0.25 c=1.69  clipped,   grad 0
//	V=0    V_old=0.1 R=-1   Vc=0    u=1    c=1     unclipped, grad 1/5         =  0.2
//
// loss = 0.5·(0.25 + 1 + 0.09 + 1.69 + 1)/5 = 0.5·4.03/5 = 0.403; clipfrac 1/5. PyTorch running TRL's
// loss section gives the same loss and gradients.
func TestValueClipHandExample(t *testing.T) {
	v := []float64{0.5, 1, -0.2, 2, 0, 0.3}
	old := []float64{0.4, 0.5, 0, 1, 0.1, 0.3}
	ret := []float64{1, 0, 0.1, 2.5, -1, 7}
	mask := []bool{true, true, true, true, true, false}
	d := make([]float64, 6)
	m, err := ValueClip(v, old, ret, mask, 0.2, d)
	if err != nil {
		t.Fatal(err)
	}
	if !near(m.Loss, 0.403, 1e-12) || !near(m.ClipFrac, 0.2, 1e-15) {
		t.Errorf("metrics %+v, want loss 0.403 clipfrac 0.2", m)
	}
	checkClose(t, "dJ/dV", d, []float64{-0.1, 0.2, -0.06, 0, 0.2, 0}, 1e-12)
	gradCheck(t, "ValueClip", v, d, func(x []float64) float64 {
		m, _ := ValueClip(x, old, ret, mask, 0.2, nil)
		return m.Loss
	})
}

func TestValueClipRefusesBadInput(t *testing.T) {
	x := []float64{1, 2}
	m := []bool{true, true}
	for name, err := range map[string]error{
		"lengths":   func() error { _, err := ValueClip(x, x, x[:1], m, 0.2, nil); return err }(),
		"all pads":  func() error { _, err := ValueClip(x, x, x, []bool{false, false}, 0.2, nil); return err }(),
		"cliprange": func() error { _, err := ValueClip(x, x, x, m, -1, nil); return err }(),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The metrics are logged under TRL PPOTrainer's names.
func TestValueMetricNames(t *testing.T) {
	b, err := json.Marshal(ValueMetrics{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"loss/value_avg", "val/clipfrac_avg"} {
		if !strings.Contains(string(b), `"`+k+`"`) {
			t.Errorf("%s missing from %s", k, b)
		}
	}
}
