// Package rlhf holds the arithmetic of PPO from human feedback between the rollout and the loss:
// per-token KL estimates against the reference model, per-token rewards, generalized advantage
// estimation, advantage whitening, the KL coefficient's controllers, and the policy's per-token
// entropy. Every [B,T] slice is row-major, one row per response, with a mask that is true at the
// response's real tokens. The losses themselves are in package losses.
package rlhf

import (
	"fmt"
	"math"
)

// KLEstimator names a per-token estimator of KL(π || π_ref) computed from the log-probabilities the
// policy and the reference give the sampled token, as TRL's kl_estimator does.
type KLEstimator string

// The estimators of Schulman's "Approximating KL divergence" built here.
const (
	KLK1 KLEstimator = "k1" // unbiased, high variance, can be negative
	KLK3 KLEstimator = "k3" // unbiased, lower variance, never negative
)

// Func returns the estimator's per-token function, or an error for an unknown name.
func (e KLEstimator) Func() (func(logp, logpRef float64) float64, error) {
	switch e {
	case KLK1:
		return K1, nil
	case KLK3:
		return K3, nil
	}
	return nil, fmt.Errorf("unknown kl_estimator %q (have: k1, k3)", e)
}

// K1 is the plain log-ratio:
//
//	k1 = log π - log π_ref
//
// (log π, log π_ref) = (-1, -2) gives 1; (-2, -1) gives -1.
func K1(logp, logpRef float64) float64 { return logp - logpRef }

// K3 is
//
//	k3 = (r - 1) - log r,   r = π_ref / π = exp(log π_ref - log π),
//
// evaluated as expm1(d) - d with d = log π_ref - log π so that it keeps its precision when π ≈ π_ref.
// (log π, log π_ref) = (-1, -2) gives e^-1 - 1 + 1 = 0.367879; (-2, -1) gives e - 1 - 1 = 0.718282.
func K3(logp, logpRef float64) float64 {
	d := logpRef - logp
	return math.Expm1(d) - d
}
