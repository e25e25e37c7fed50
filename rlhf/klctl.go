package rlhf

import (
	"fmt"
	"math"
)

// KLController supplies the KL coefficient β of the per-token rewards and updates it once per rollout
// from the KL measured on that rollout. Its exported fields are its whole state, for checkpoints.
type KLController interface {
	// KLCoef is the current β.
	KLCoef() float64
	// Update takes the rollout's KL (objective/kl: per response, summed over tokens, averaged) and the
	// number of responses it was measured on.
	Update(currentKL float64, nSteps int)
}

// FixedKLController keeps β constant.
type FixedKLController struct {
	Coef float64 `json:"kl_coef"`
}

// KLCoef is the constant β.
func (c *FixedKLController) KLCoef() float64 { return c.Coef }

// Update does nothing: β is fixed.
func (c *FixedKLController) Update(float64, int) {}

// AdaptiveKLController is Ziegler et al. 2019's proportional controller, as TRL's
// AdaptiveKLController: it steers the measured KL towards Target over a horizon of Horizon responses,
//
//	e = clip(KL / target - 1, -0.2, 0.2)
//	β <- β · (1 + e · n_steps / horizon)
type AdaptiveKLController struct {
	Coef    float64 `json:"kl_coef"`
	Target  float64 `json:"target"`
	Horizon float64 `json:"horizon"`
}

// NewAdaptiveKLController starts at β = initCoef; every argument must be positive.
func NewAdaptiveKLController(initCoef, target, horizon float64) (*AdaptiveKLController, error) {
	if !(initCoef > 0 && target > 0 && horizon > 0) || math.IsInf(initCoef+target+horizon, 0) {
		return nil, fmt.Errorf("adaptive KL controller: init_kl_coef %g, target %g and horizon %g must be positive and finite", initCoef, target, horizon)
	}
	return &AdaptiveKLController{Coef: initCoef, Target: target, Horizon: horizon}, nil
}

// KLCoef is the current β.
func (c *AdaptiveKLController) KLCoef() float64 { return c.Coef }

// Update applies one proportional step.
func (c *AdaptiveKLController) Update(currentKL float64, nSteps int) {
	e := min(max(currentKL/c.Target-1, -0.2), 0.2)
	c.Coef *= 1 + e*float64(nSteps)/c.Horizon
}
