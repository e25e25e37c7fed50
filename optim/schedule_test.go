package optim

import (
	"math"
	"testing"
)

// TestLRAt: PeakLR 1, MinLR 0.1, warmup 4, total 14, so the cosine spans steps 4..14 (10 steps).
// Warmup: (step+1)/5. Cosine: 0.1 + 0.9*0.5*(1 + cos(pi*(step-4)/10)), with cos(pi/5) = (1+sqrt5)/4
// = 0.80901699, cos(pi/2) = 0, cos(7pi/10) = -sin(pi/5) = -sqrt(10-2sqrt5)/4 = -0.58778525.
func TestLRAt(t *testing.T) {
	s := Schedule{PeakLR: 1, MinLR: 0.1, WarmupSteps: 4, TotalSteps: 14}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	cos36 := (1 + math.Sqrt(5)) / 4
	sin36 := math.Sqrt(10-2*math.Sqrt(5)) / 4
	cases := []struct {
		step int
		want float64
	}{
		{-3, 0.2}, // negative counts as 0
		{0, 0.2},  // 1/5: never 0
		{1, 0.4},
		{3, 0.8},                   // the last warmup step, below the peak
		{4, 1.0},                   // the peak, at step W
		{6, 0.1 + 0.45*(1+cos36)},  // 0.91405765
		{9, 0.55},                  // halfway: 0.1 + 0.9/2
		{11, 0.1 + 0.45*(1-sin36)}, // 0.28549664
		{13, 0.1 + 0.45*(1-math.Cos(0.1*math.Pi))}, // 0.1 + 0.45*(1 - 0.95105652) = 0.12202457
		{14, 0.1},
		{1000, 0.1},
	}
	for _, c := range cases {
		if got := s.LRAt(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("LRAt(%d) = %.12g, want %.12g", c.step, got, c.want)
		}
	}
}

func TestLRAtNoWarmup(t *testing.T) {
	s := Schedule{PeakLR: 2e-3, MinLR: 0, WarmupSteps: 0, TotalSteps: 4}
	for step, want := range []float64{2e-3, 1e-3 * (1 + math.Sqrt2/2), 1e-3, 1e-3 * (1 - math.Sqrt2/2), 0} {
		if got := s.LRAt(step); math.Abs(got-want) > 1e-15 {
			t.Errorf("LRAt(%d) = %g, want %g", step, got, want)
		}
	}
	// Warmup all the way: the floor right after it, no division by zero.
	s = Schedule{PeakLR: 1, MinLR: 0.5, WarmupSteps: 3, TotalSteps: 3}
	if got := []float64{s.LRAt(2), s.LRAt(3)}; got[0] != 0.75 || got[1] != 0.5 {
		t.Errorf("warmup = total: LRAt(2), LRAt(3) = %v, want [0.75 0.5]", got)
	}
}

func TestScheduleValidate(t *testing.T) {
	for _, s := range []Schedule{
		{PeakLR: 0, TotalSteps: 10},
		{PeakLR: math.Inf(1), TotalSteps: 10},
		{PeakLR: 1, MinLR: 2, TotalSteps: 10},
		{PeakLR: 1, MinLR: -1, TotalSteps: 10},
		{PeakLR: 1, WarmupSteps: -1, TotalSteps: 10},
		{PeakLR: 1, WarmupSteps: 11, TotalSteps: 10},
	} {
		if s.Validate() == nil {
			t.Errorf("Validate accepted %+v", s)
		}
	}
}

// TestLRAtMatchesNanoGPT compares with nanoGPT's get_lr (learning_rate 3e-3, min_lr 3e-4,
// warmup_iters 200, lr_decay_iters 3000), values printed with repr by /usr/bin/python3; they agree
// to the bit.
func TestLRAtMatchesNanoGPT(t *testing.T) {
	s := Schedule{PeakLR: 3e-3, MinLR: 3e-4, WarmupSteps: 200, TotalSteps: 3000}
	for _, c := range []struct {
		step int
		want float64
	}{
		{0, 1.4925373134328359e-05},
		{1, 2.9850746268656717e-05},
		{199, 0.0029850746268656717},
		{200, 0.003},
		{201, 0.002999999150257363},
		{777, 0.0027268398152135616},
		{1600, 0.00165},
		{2500, 0.0005069223310418164},
		{2999, 0.0003000008497426367},
		{3000, 0.0003},
		{3001, 0.0003},
	} {
		if got := s.LRAt(c.step); got != c.want {
			t.Errorf("LRAt(%d) = %.17g, nanoGPT %.17g", c.step, got, c.want)
		}
	}
}
