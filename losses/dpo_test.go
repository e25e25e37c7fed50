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
		m, err := DPO(DPOConfig{Beta: beta, LossType: DPOSigmoid}, pw, pl, pw, pl, nil, dw, dl)
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
		m, err := DPO(tc.cfg, pw, pl, rw, rl, nil, dw, dl)
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
			m, _ := DPO(tc.cfg, x[:3], x[3:], rw, rl, nil, nil, nil)
			return m.Loss
		})
	}
}

// Large |βh| stays finite: softplus(-βh) = 0 for h = 1000, β = 1, and = 1000 for h = -1000.
func TestDPOStableAtLargeLogRatios(t *testing.T) {
	m, err := DPO(DPOConfig{Beta: 1, LossType: DPOSigmoid}, []float64{0, -1000}, []float64{-1000, 0}, []float64{0, 0}, []float64{0, 0}, nil, nil, nil)
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
		if _, err := DPO(tc.cfg, x, x, tc.ref, x, nil, tc.dChose, nil); err == nil {
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
	for _, k := range []string{"loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen", "logps/rejected", "nll_loss"} {
		if !strings.Contains(string(b), `"`+k+`"`) {
			t.Errorf("%s missing from %s", k, b)
		}
	}
}

// RPO by hand: 2 pairs, sigmoid, β = 0.5, α = 0.5, chosen completions of n = (3, 1) tokens, K = 4.
//
//	pair 1: π_w = -6, π_l = -9, ref_w = -6, ref_l = -9:           h = 0,     L = ln 2,           L' = -β σ(0)    = -1/4
//	pair 2: π_w = -3, π_l = -8, ref_w = -3, ref_l = -8 + 2 ln 3:  h = 2 ln 3, βh = ln 3, σ(βh) = 3/4,
//	        L = -log(3/4) = ln(4/3),                               L' = -β σ(-βh) = -1/8
//
// DPO term: (ln 2 + ln(4/3))/2 = ln(8/3)/2 = 0.490414626505863.
// NLL per chosen token over the batch: -(-6 - 3)/4 = 9/4 = 2.25 (per sequence it would be (6/3 + 3/1)/2
// = 2.5, per pair of sums (6 + 3)/2 = 4.5), α NLL = 1.125, so J = 1.615414626505863.
// dJ/dπ_w,i = L'(h_i)/N - α/K: -1/8 - 1/8 = -0.25 and -1/16 - 1/8 = -0.1875; dJ/dπ_l,i = -L'(h_i)/N:
// +0.125 and +0.0625. The rewards do not see α: chosen 0 and 0, rejected 0 and β(-2 ln 3) = -ln 3.
func TestDPORPOByHand(t *testing.T) {
	ln3 := math.Log(3)
	pw, pl := []float64{-6, -3}, []float64{-9, -8}
	rw, rl := []float64{-6, -3}, []float64{-9, -8 + 2*ln3}
	n := []int{3, 1}
	cfg := DPOConfig{Beta: 0.5, LossType: DPOSigmoid, RPOAlpha: 0.5}
	dw, dl := make([]float64, 2), make([]float64, 2)
	m, err := DPO(cfg, pw, pl, rw, rl, n, dw, dl)
	if err != nil {
		t.Fatal(err)
	}
	if !near(m.Loss, 1.615414626505863, 1e-14) || !near(m.Loss, math.Log(8.0/3)/2+0.5*2.25, 1e-15) {
		t.Errorf("loss %.16g, want ln(8/3)/2 + 1.125 = 1.615414626505863", m.Loss)
	}
	if m.NLLLoss != 2.25 {
		t.Errorf("nll_loss %.16g, want 2.25 (per token over the batch)", m.NLLLoss)
	}
	checkClose(t, "dJ/dπ_w", dw, []float64{-0.25, -0.1875}, 1e-15)
	checkClose(t, "dJ/dπ_l", dl, []float64{0.125, 0.0625}, 1e-15)
	if !near(m.RewardsChosen, 0, 1e-15) || !near(m.RewardsRejected, -ln3/2, 1e-15) || m.RewardsAccuracy != 0.5 {
		t.Errorf("rewards %+v", m)
	}
	x := append(append([]float64{}, pw...), pl...)
	gradCheck(t, "DPO+RPO by hand", x, append(dw, dl...), func(x []float64) float64 {
		m, _ := DPO(cfg, x[:2], x[2:], rw, rl, n, nil, nil)
		return m.Loss
	})
}

// The RPO gradient of every loss type against a central finite difference, at points away from the
// hinge's kink, with a chosen side of 0 tokens among them. For ipo the inputs are per-token means, so the
// NLL reads n_i π_w,i and its gradient on π_w,i is -α n_i/K; the NLL itself (and its value in the
// metrics) must be the same whether a side enters as its sum (sigmoid) or its mean (ipo).
func TestDPORPOGradientMatchesFiniteDifference(t *testing.T) {
	sums := []float64{-10, -12.5, -8, 0}
	n := []int{5, 4, 2, 0}
	pl := []float64{-11, -12, -9.5, -3}
	rw, rl := []float64{-10.5, -12, -8.2, 0}, []float64{-10.8, -12.3, -9, -2}
	wantNLL := (10 + 12.5 + 8) / 11.0
	for _, cfg := range []DPOConfig{
		{Beta: 0.1, LossType: DPOSigmoid, RPOAlpha: 1},
		{Beta: 0.5, LossType: DPOSigmoid, LabelSmoothing: 0.1, RPOAlpha: 0.3},
		{Beta: 0.1, LossType: DPOIPO, RPOAlpha: 2},
		{Beta: 2, LossType: DPOHinge, RPOAlpha: 0.7},
	} {
		pw, pwRef, plIn, rlIn := append([]float64{}, sums...), append([]float64{}, rw...), append([]float64{}, pl...), append([]float64{}, rl...)
		if cfg.LossType == DPOIPO { // the caller's per-token means; the 0-token side stays 0
			for i, c := range n {
				if c > 0 {
					pw[i], pwRef[i] = pw[i]/float64(c), pwRef[i]/float64(c)
				}
			}
		}
		dw, dl := make([]float64, 4), make([]float64, 4)
		m, err := DPO(cfg, pw, plIn, pwRef, rlIn, n, dw, dl)
		if err != nil {
			t.Fatal(err)
		}
		if !near(m.NLLLoss, wantNLL, 1e-15) {
			t.Errorf("%+v: nll_loss %.16g, want %.16g", cfg, m.NLLLoss, wantNLL)
		}
		plain := cfg
		plain.RPOAlpha = 0
		m0, err := DPO(plain, pw, plIn, pwRef, rlIn, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !near(m.Loss, m0.Loss+cfg.RPOAlpha*wantNLL, 1e-14) {
			t.Errorf("%+v: loss %.16g, want DPO %.16g + α NLL %.16g", cfg, m.Loss, m0.Loss, cfg.RPOAlpha*wantNLL)
		}
		x := append(append([]float64{}, pw...), plIn...)
		gradCheck(t, "DPO+RPO "+string(cfg.LossType), x, append(dw, dl...), func(x []float64) float64 {
			m, _ := DPO(cfg, x[:4], x[4:], pwRef, rlIn, n, nil, nil)
			return m.Loss
		})
	}
}

// rpo_alpha 0 is plain DPO bit for bit, whether or not token counts are passed, and logs no NLL.
func TestDPORPOZeroIsPlainDPO(t *testing.T) {
	pw, pl := []float64{-10, -12.5, -8}, []float64{-11, -12, -9.5}
	rw, rl := []float64{-10.5, -12, -8.2}, []float64{-10.8, -12.3, -9}
	for _, cfg := range []DPOConfig{
		{Beta: 0.1, LossType: DPOSigmoid}, {Beta: 0.5, LossType: DPOSigmoid, LabelSmoothing: 0.1},
		{Beta: 0.1, LossType: DPOIPO}, {Beta: 2, LossType: DPOHinge},
	} {
		dw0, dl0, dw1, dl1 := make([]float64, 3), make([]float64, 3), make([]float64, 3), make([]float64, 3)
		m0, err0 := DPO(cfg, pw, pl, rw, rl, nil, dw0, dl0)
		m1, err1 := DPO(cfg, pw, pl, rw, rl, []int{0, 0, 0}, dw1, dl1)
		if err0 != nil || err1 != nil {
			t.Fatal(err0, err1)
		}
		if m0 != m1 || m0.NLLLoss != 0 {
			t.Errorf("%+v: metrics %+v with counts, %+v without", cfg, m1, m0)
		}
		for i := range dw0 {
			if math.Float64bits(dw0[i]) != math.Float64bits(dw1[i]) || math.Float64bits(dl0[i]) != math.Float64bits(dl1[i]) {
				t.Errorf("%+v: gradient %d differs with token counts", cfg, i)
			}
		}
	}
}

func TestDPORPORefusesBadInput(t *testing.T) {
	x := []float64{-1, -2}
	rpo := func(a float64) DPOConfig { return DPOConfig{Beta: 0.1, LossType: DPOSigmoid, RPOAlpha: a} }
	for name, tc := range map[string]struct {
		cfg DPOConfig
		n   []int
	}{
		"negative alpha":  {rpo(-0.5), []int{1, 1}},
		"NaN alpha":       {rpo(math.NaN()), []int{1, 1}},
		"infinite alpha":  {rpo(math.Inf(1)), []int{1, 1}},
		"no counts":       {rpo(1), nil},
		"counts length":   {rpo(1), []int{1}},
		"negative count":  {rpo(1), []int{3, -1}},
		"no chosen token": {rpo(1), []int{0, 0}},
	} {
		if _, err := DPO(tc.cfg, x, x, x, x, tc.n, nil, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
