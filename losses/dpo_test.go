package losses

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// At policy = reference every h is 0: L = -log σ(0) = ln 2 = 0.693147 whatever β, and
// L'(0) = -β σ(0) = -β/2, so dJ/dπ_w = -β/(2N) and dJ/dπ_l = +β/(2N): with N = 2, ∓β/4.
// Both implicit rewards are 0, so no pair counts as accurate.
func TestDPOAtReferenceIsLn2WithNonZeroGradient(t *testing.T) {
	pw, pl := []float64{-12, -7.5}, []float64{-9, -20}
	for _, beta := range []float64{0.1, 0.5, 3} {
		dw, dl := make([]float64, 2), make([]float64, 2)
		m, err := DPO(DPOConfig{Beta: beta, LossType: DPOSigmoid}, pw, pl, pw, pl, dw, dl)
		if err != nil {
			t.Fatal(err)
		}
		if !near(m.Loss, 0.693147, 1e-6) || !near(m.Loss, math.Ln2, 1e-15) {
			t.Errorf("β %g: loss %.9f, want ln 2", beta, m.Loss)
		}
		checkClose(t, "dJ/dπ_w", dw, []float64{-beta / 4, -beta / 4}, 1e-15)
		checkClose(t, "dJ/dπ_l", dl, []float64{beta / 4, beta / 4}, 1e-15)
		if m.RewardsChosen != 0 || m.RewardsRejected != 0 || m.RewardsMargins != 0 || m.RewardsAccuracy != 0 {
			t.Errorf("β %g: rewards %+v, want all 0", beta, m)
		}
		if m.LogpsChosen != -9.75 || m.LogpsRejected != -14.5 {
			t.Errorf("β %g: logps %g %g, want -9.75 -14.5", beta, m.LogpsChosen, m.LogpsRejected)
		}
	}
}

// One batch through every loss type, against PyTorch running TRL's dpo_loss formulas (loss .mean(),
// autograd gradients). h = 0.7, -0.8, 0.7. IPO by hand: 1/(2β) = 5, ((0.7-5)² + (-0.8-5)² + (0.7-5)²)/3
// = (18.49 + 33.64 + 18.49)/3 = 23.54. Hinge with β = 2: relu(1 - 1.4) = 0, relu(1 + 1.6) = 2.6, 0:
// mean 0.866667, gradient only on pair 2: ∓(-2)/3.
func TestDPOLossTypesMatchTRL(t *testing.T) {
	pw, pl := []float64{-10, -12.5, -8}, []float64{-11, -12, -9.5}
	rw, rl := []float64{-10.5, -12, -8.2}, []float64{-10.8, -12.3, -9}
	for _, tc := range []struct {
		cfg  DPOConfig
		loss float64
		dw   []float64
	}{
		{DPOConfig{Beta: 0.1, LossType: DPOSigmoid}, 0.6838220261383281, []float64{-0.016083571411120344, -0.017332978005186055, -0.016083571411120344}},
		{DPOConfig{Beta: 0.5, LossType: DPOSigmoid, LabelSmoothing: 0.1}, 0.6699265210791691, []float64{-0.05223040351377833, -0.08311461001874201, -0.05223040351377833}},
		{DPOConfig{Beta: 0.1, LossType: DPOIPO}, 23.54, []float64{-2.866666666666667, -3.866666666666667, -2.866666666666667}},
		{DPOConfig{Beta: 2, LossType: DPOHinge}, 0.8666666666666671, []float64{0, -0.6666666666666666, 0}},
	} {
		dw, dl := make([]float64, 3), make([]float64, 3)
		m, err := DPO(tc.cfg, pw, pl, rw, rl, dw, dl)
		if err != nil {
			t.Fatal(err)
		}
		if !near(m.Loss, tc.loss, 1e-12) {
			t.Errorf("%+v: loss %.16g, want %.16g", tc.cfg, m.Loss, tc.loss)
		}
		checkClose(t, string(tc.cfg.LossType)+" dJ/dπ_w", dw, tc.dw, 1e-12)
		neg := make([]float64, 3)
		for i, g := range tc.dw {
			neg[i] = -g
		}
		checkClose(t, string(tc.cfg.LossType)+" dJ/dπ_l", dl, neg, 1e-12)
		// Implicit rewards β(π - ref): chosen 0.5, -0.5, 0.2 -> mean 0.2/3; rejected -0.2, 0.3, -0.5 ->
		// mean -0.4/3; pairs 1 and 3 have chosen > rejected.
		b := tc.cfg.Beta
		if !near(m.RewardsChosen, b*0.2/3, 1e-12) || !near(m.RewardsRejected, -b*0.4/3, 1e-12) ||
			!near(m.RewardsMargins, b*0.2, 1e-12) || !near(m.RewardsAccuracy, 2.0/3, 1e-15) ||
			!near(m.LogpsChosen, -30.5/3, 1e-12) || !near(m.LogpsRejected, -32.5/3, 1e-12) {
			t.Errorf("%+v: metrics %+v", tc.cfg, m)
		}
		x := append(append([]float64{}, pw...), pl...)
		gradCheck(t, "DPO "+string(tc.cfg.LossType), x, append(dw, dl...), func(x []float64) float64 {
			m, _ := DPO(tc.cfg, x[:3], x[3:], rw, rl, nil, nil)
			return m.Loss
		})
	}
}

// Large |βh| stays finite: softplus(-βh) = 0 for h = 1000, β = 1, and = 1000 for h = -1000.
func TestDPOStableAtLargeLogRatios(t *testing.T) {
	m, err := DPO(DPOConfig{Beta: 1, LossType: DPOSigmoid}, []float64{0, -1000}, []float64{-1000, 0}, []float64{0, 0}, []float64{0, 0}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Loss != 500 {
		t.Errorf("loss %g, want 500", m.Loss)
	}
}

func TestDPORefusesBadInput(t *testing.T) {
	ok := DPOConfig{Beta: 0.1, LossType: DPOSigmoid}
	x := []float64{-1, -2}
	for name, tc := range map[string]struct {
		cfg    DPOConfig
		ref    []float64
		dChose []float64
	}{
		"beta 0":           {DPOConfig{LossType: DPOSigmoid}, x, nil},
		"unknown loss":     {DPOConfig{Beta: 0.1, LossType: "robust"}, x, nil},
		"smoothing 0.5":    {DPOConfig{Beta: 0.1, LossType: DPOSigmoid, LabelSmoothing: 0.5}, x, nil},
		"smoothing ipo":    {DPOConfig{Beta: 0.1, LossType: DPOIPO, LabelSmoothing: 0.1}, x, nil},
		"reference length": {ok, x[:1], nil},
		"gradient length":  {ok, x, make([]float64, 3)},
	} {
		if _, err := DPO(tc.cfg, x, x, tc.ref, x, tc.dChose, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The metrics are logged under TRL DPOTrainer's names.
func TestDPOMetricNames(t *testing.T) {
	b, err := json.Marshal(DPOMetrics{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen", "logps/rejected"} {
		if !strings.Contains(string(b), `"`+k+`"`) {
			t.Errorf("%s missing from %s", k, b)
		}
	}
}
