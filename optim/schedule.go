package optim

import (
	"fmt"
	"math"
)

// Schedule is nanoGPT's learning-rate schedule (train.py, get_lr): a linear warmup, then a cosine
// decay from PeakLR to the floor MinLR, reached at TotalSteps and kept after.
type Schedule struct {
	PeakLR      float64 // the rate at the end of warmup, e.g. 3e-3
	MinLR       float64 // the floor, e.g. PeakLR/10
	WarmupSteps int     // steps 0 .. WarmupSteps-1 warm up; 0 starts the decay at once
	TotalSteps  int     // the step at which the decay reaches MinLR
}

// Validate checks 0 < PeakLR, 0 <= MinLR <= PeakLR and 0 <= WarmupSteps <= TotalSteps, all finite.
func (s Schedule) Validate() error {
	if math.IsNaN(s.PeakLR) || math.IsInf(s.PeakLR, 0) || s.PeakLR <= 0 {
		return fmt.Errorf("optim: peak learning rate %g is not a positive number", s.PeakLR)
	}
	if math.IsNaN(s.MinLR) || s.MinLR < 0 || s.MinLR > s.PeakLR {
		return fmt.Errorf("optim: minimum learning rate %g is not in [0, %g]", s.MinLR, s.PeakLR)
	}
	if s.WarmupSteps < 0 || s.TotalSteps < s.WarmupSteps {
		return fmt.Errorf("optim: warmup %d and total %d steps: want 0 <= warmup <= total", s.WarmupSteps, s.TotalSteps)
	}
	return nil
}

// LRAt is the learning rate for the step with 0-based index step (the step about to be taken;
// negative steps count as 0). With W = WarmupSteps and T = TotalSteps:
//
//	step < W:       PeakLR * (step+1) / (W+1)                    linear, PeakLR/(W+1) at step 0, never 0
//	W <= step < T:  MinLR + 0.5*(1 + cos(pi*(step-W)/(T-W))) * (PeakLR - MinLR)   PeakLR at step W
//	step >= T:      MinLR
//
// the formula of nanoGPT's get_lr (whose cosine also gives exactly MinLR at step T).
func (s Schedule) LRAt(step int) float64 {
	step = max(step, 0)
	w, t := s.WarmupSteps, s.TotalSteps
	switch {
	case step < w:
		return s.PeakLR * float64(step+1) / float64(w+1)
	case step >= t:
		return s.MinLR
	}
	ratio := float64(step-w) / float64(t-w)
	coeff := 0.5 * (1 + math.Cos(math.Pi*ratio))       // 1 at the end of warmup, 0 at T
	return s.MinLR + float64(coeff*(s.PeakLR-s.MinLR)) // the conversion forbids a fused multiply-add, as in Python
}
