package losses

import (
	"encoding/json"
	"strings"
	"testing"
)

// One pair at a time: J = softplus(-margin). By hand: softplus(-2) = ln(1 + e^-2) = ln 1.135335 =
// 0.126928; softplus(2) = 2 + ln(1 + e^-2) = 2.126928; softplus(0) = ln 2 = 0.693147. The gradient
// on r_w is -σ(-margin): -0.119203, -0.880797, -0.5.
func TestBradleyTerryHandValues(t *testing.T) {
	for _, tc := range []struct {
		w, l, loss, dw, acc float64
	}{
		{1, -1, 0.126928, -0.119203, 1},
		{-1, 1, 2.126928, -0.880797, 0},
		{0.3, 0.3, 0.693147, -0.5, 0},
	} {
		dw, dl := make([]float64, 1), make([]float64, 1)
		m, err := BradleyTerry([]float64{tc.w}, []float64{tc.l}, 0, dw, dl)
		if err != nil {
			t.Fatal(err)
		}
		if !near(m.Loss, tc.loss, 1e-6) || !near(dw[0], tc.dw, 1e-6) || !near(dl[0], -tc.dw, 1e-6) {
			t.Errorf("margin %g: loss %.6f d(w,l) (%.6f, %.6f), want %.6f (%.6f, %.6f)", tc.w-tc.l, m.Loss, dw[0], dl[0], tc.loss, tc.dw, -tc.dw)
		}
		if m.Accuracy != tc.acc || !near(m.Margin, tc.w-tc.l, 1e-12) {
			t.Errorf("margin %g: accuracy %g margin %g", tc.w-tc.l, m.Accuracy, m.Margin)
		}
	}
}

// The softplus form stays finite where log(sigmoid(x)) computed naively gives log(0) = -Inf.
func TestBradleyTerryStableAtLargeMargins(t *testing.T) {
	m, err := BradleyTerry([]float64{-400, 800}, []float64{400, -800}, 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// (800 + 0) / 2: softplus(800) = 800 + ln(1 + e^-800) = 800, softplus(-1600) = 0.
	if m.Loss != 400 {
		t.Errorf("loss %g, want 400", m.Loss)
	}
}

// A batch with centering, against PyTorch running TRL's compute_loss:
// -logsigmoid(w - l).mean() + 0.01 * mean((w + l)**2), and its autograd gradients.
func TestBradleyTerryCenteredMatchesTRL(t *testing.T) {
	w := []float64{1.5, -0.3, 0.2, 2.0}
	l := []float64{-0.5, 0.4, 0.2, -1.0}
	dw, dl := make([]float64, 4), make([]float64, 4)
	m, err := BradleyTerry(w, l, 0.01, dw, dl)
	if err != nil {
		t.Fatal(err)
	}
	if !near(m.Loss, 0.4983871480155294, 1e-12) {
		t.Errorf("loss %.16g", m.Loss)
	}
	checkClose(t, "dJ/dr_w", dw, []float64{-0.024800730505529386, -0.1665469430420415, -0.123, -0.006856468294391697}, 1e-12)
	checkClose(t, "dJ/dr_l", dl, []float64{0.034800730505529384, 0.1675469430420415, 0.127, 0.016856468294391698}, 1e-12)
	// Two of four pairs have r_w > r_l (the tie does not count); margins 2, -0.7, 0, 3.
	want := BTMetrics{Loss: m.Loss, Accuracy: 0.5, Margin: 4.3 / 4, MeanReward: 2.5 / 8, MinReward: -1, MaxReward: 2}
	if !near(m.Margin, want.Margin, 1e-12) || !near(m.MeanReward, want.MeanReward, 1e-12) {
		t.Errorf("metrics %+v, want %+v", m, want)
	}
	m.Margin, m.MeanReward = want.Margin, want.MeanReward
	if m != want {
		t.Errorf("metrics %+v, want %+v", m, want)
	}

	x := append(append([]float64{}, w...), l...)
	gradCheck(t, "BradleyTerry", x, append(dw, dl...), func(x []float64) float64 {
		m, _ := BradleyTerry(x[:4], x[4:], 0.01, nil, nil)
		return m.Loss
	})
}

// float32 inputs give the float64 loss to float32 precision and float32 gradients.
func TestBradleyTerryFloat32(t *testing.T) {
	dw, dl := make([]float32, 2), make([]float32, 2)
	m, err := BradleyTerry([]float32{1, -1}, []float32{-1, 1}, 0, dw, dl)
	if err != nil {
		t.Fatal(err)
	}
	// (0.126928 + 2.126928) / 2 = 1.126928; gradients (-0.119203, -0.880797) / 2.
	if !near(m.Loss, 1.126928, 1e-6) || !near(float64(dw[0]), -0.0596015, 1e-6) || !near(float64(dl[1]), 0.4403985, 1e-6) {
		t.Errorf("loss %g dw %v dl %v", m.Loss, dw, dl)
	}
}

func TestBradleyTerryRefusesBadInput(t *testing.T) {
	for name, err := range map[string]error{
		"lengths": func() error { _, err := BradleyTerry([]float64{1, 2}, []float64{1}, 0, nil, nil); return err }(),
		"empty":   func() error { _, err := BradleyTerry([]float64{}, []float64{}, 0, nil, nil); return err }(),
		"gradient": func() error {
			_, err := BradleyTerry([]float64{1}, []float64{1}, 0, make([]float64, 2), nil)
			return err
		}(),
		"center": func() error { _, err := BradleyTerry([]float64{1}, []float64{1}, -1, nil, nil); return err }(),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The metrics are logged under TRL RewardTrainer's names.
func TestBradleyTerryMetricNames(t *testing.T) {
	b, err := json.Marshal(BTMetrics{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"loss", "accuracy", "margin", "mean_reward", "min_reward", "max_reward"} {
		if !strings.Contains(string(b), `"`+k+`"`) {
			t.Errorf("%s missing from %s", k, b)
		}
	}
}
