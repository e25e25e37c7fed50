package rlhf

import (
	"encoding/json"
	"testing"
)

// β = 0.1, target 6, horizon 10000, 256 responses per rollout. By hand:
//
//	KL 9:   e = clip(9/6 - 1 = 0.5, ±0.2) = 0.2;  β = 0.1 · (1 + 0.2·256/10000) = 0.1 · 1.00512 = 0.100512
//	KL 5.4: e = 5.4/6 - 1 = -0.1;                β = 0.100512 · (1 - 0.1·256/10000) = 0.100512 · 0.99744
//	                                                = 0.100254689
func TestAdaptiveKLControllerUpdate(t *testing.T) {
	c, err := NewAdaptiveKLController(0.1, 6, 10000)
	if err != nil {
		t.Fatal(err)
	}
	c.Update(9, 256)
	if !near(c.KLCoef(), 0.100512, 1e-12) {
		t.Errorf("β after KL 9: %.9f, want 0.100512", c.KLCoef())
	}
	c.Update(5.4, 256)
	if !near(c.KLCoef(), 0.10025468928, 1e-12) {
		t.Errorf("β after KL 5.4: %.11f, want 0.10025468928", c.KLCoef())
	}
	// The state round-trips through JSON for checkpoints.
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back AdaptiveKLController
	if err := json.Unmarshal(b, &back); err != nil || back != *c {
		t.Errorf("round trip %s -> %+v, %v", b, back, err)
	}
	for _, bad := range [][3]float64{{0, 6, 1}, {0.1, 0, 1}, {0.1, 6, -1}} {
		if _, err := NewAdaptiveKLController(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestFixedKLControllerStaysFixed(t *testing.T) {
	var c KLController = &FixedKLController{Coef: 0.05}
	c.Update(100, 256)
	if c.KLCoef() != 0.05 {
		t.Errorf("β = %g, want 0.05", c.KLCoef())
	}
}
