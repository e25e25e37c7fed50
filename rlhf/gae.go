package rlhf

import (
	"errors"
	"fmt"

	"pipeline/losses"
)

// GAE is generalized advantage estimation (Schulman et al. 2016) over B responses of T tokens. Within
// each row the real tokens (mask true) are the steps, in order; pads are skipped and get advantage and
// return 0. With V after a row's last real token taken as 0 (the episode ends there),
//
//	δ_t = r_t + γ V_{t+1} - V_t
//	A_t = δ_t + γλ A_{t+1}          (A after the last real token = 0)
//	R_t = A_t + V_t                 (the value target)
//
// rewards, values and mask are [B,T]; advantages and returns [B,T] are written. γ and λ must be in
// [0, 1].
func GAE[F losses.Float](rewards, values []F, mask []bool, T int, gamma, lambda float64, advantages, returns []F) error {
	n := len(rewards)
	if T <= 0 || n == 0 || n%T != 0 {
		return fmt.Errorf("gae: %d rewards are not rows of T = %d", n, T)
	}
	if err := errors.Join(checkLen("values", len(values), n), checkLen("mask", len(mask), n),
		checkLen("advantages", len(advantages), n), checkLen("returns", len(returns), n)); err != nil {
		return fmt.Errorf("gae: %w", err)
	}
	if !(gamma >= 0 && gamma <= 1) || !(lambda >= 0 && lambda <= 1) {
		return fmt.Errorf("gae: gamma %g and lambda %g must be in [0, 1]", gamma, lambda)
	}
	for row := 0; row < n; row += T {
		var nextV, nextA float64
		for i := row + T - 1; i >= row; i-- {
			if !mask[i] {
				advantages[i], returns[i] = 0, 0
				continue
			}
			v := float64(values[i])
			delta := float64(rewards[i]) + gamma*nextV - v
			a := delta + gamma*lambda*nextA
			advantages[i], returns[i] = F(a), F(a+v)
			nextV, nextA = v, a
		}
	}
	return nil
}
