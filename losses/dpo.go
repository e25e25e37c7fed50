package losses

import (
	"errors"
	"fmt"
	"math"
)

// DPOLossType names the per-pair loss of DPO, as TRL's DPOConfig.loss_type does.
type DPOLossType string

// The DPO losses built here.
const (
	DPOSigmoid DPOLossType = "sigmoid" // Rafailov et al. 2023, with cDPO's label smoothing
	DPOIPO     DPOLossType = "ipo"     // Azar et al. 2023, eq. 17
	DPOHinge   DPOLossType = "hinge"   // SLiC / RSO
)

// DPOConfig holds TRL's DPOConfig fields that enter the loss.
type DPOConfig struct {
	Beta           float64     `yaml:"beta"`            // β > 0: strength of the implicit KL to the reference
	LossType       DPOLossType `yaml:"loss_type"`       // sigmoid | ipo | hinge
	LabelSmoothing float64     `yaml:"label_smoothing"` // ε in [0, 0.5): assumed label-flip rate; sigmoid only
}

// Validate refuses a β that is not positive, an unknown loss type, and label smoothing outside
// [0, 0.5) or with a loss other than sigmoid (where TRL would ignore it silently).
func (c DPOConfig) Validate() error {
	if !(c.Beta > 0) {
		return fmt.Errorf("dpo: beta %g must be > 0", c.Beta)
	}
	switch c.LossType {
	case DPOSigmoid, DPOIPO, DPOHinge:
	default:
		return fmt.Errorf("dpo: unknown loss_type %q (have: sigmoid, ipo, hinge)", c.LossType)
	}
	if !(c.LabelSmoothing >= 0 && c.LabelSmoothing < 0.5) {
		return fmt.Errorf("dpo: label_smoothing %g must be in [0, 0.5)", c.LabelSmoothing)
	}
	if c.LabelSmoothing != 0 && c.LossType != DPOSigmoid {
		return fmt.Errorf("dpo: label_smoothing applies to loss_type sigmoid only, not %q", c.LossType)
	}
	return nil
}

// DPOMetrics is what the DPO stage logs per batch, under TRL DPOTrainer's names. The implicit reward
// of a completion is β (log π(y|x) - log π_ref(y|x)); every field is a mean over the batch.
type DPOMetrics struct {
	Loss            float64 `json:"loss"`
	RewardsChosen   float64 `json:"rewards/chosen"`
	RewardsRejected float64 `json:"rewards/rejected"`
	RewardsMargins  float64 `json:"rewards/margins"`    // rewards/chosen - rewards/rejected
	RewardsAccuracy float64 `json:"rewards/accuracies"` // fraction with chosen reward > rejected reward
	LogpsChosen     float64 `json:"logps/chosen"`       // policy log-probs as passed in
	LogpsRejected   float64 `json:"logps/rejected"`
}

// DPO is TRL's dpo_loss over N preference pairs. Inputs are per completion: the policy's and the
// frozen reference's log-probabilities of the chosen (w) and rejected (l) completion, each summed over
// the completion's tokens (for ipo TRL divides each by the completion's length first; so should the
// caller). With the log-ratio difference
//
//	h_i = (π_w,i - ref_w,i) - (π_l,i - ref_l,i)
//
// the loss is J = 1/N Σ_i L(h_i) with
//
//	sigmoid: L(h) = -(1-ε) log σ(βh) - ε log σ(-βh)     L'(h) = -β(1-ε) σ(-βh) + βε σ(βh)
//	ipo:     L(h) = (h - 1/(2β))²                       L'(h) = 2 (h - 1/(2β))
//	hinge:   L(h) = relu(1 - βh)                        L'(h) = -β if βh < 1, else 0
//
// At policy = reference (h = 0, sigmoid, ε = 0) the loss is ln 2 for every β and the gradient is
// -β/(2N) on each chosen log-prob and +β/(2N) on each rejected one. The gradient with respect to the
// policy log-probs, dJ/dπ_w,i = L'(h_i)/N and dJ/dπ_l,i = -L'(h_i)/N, is written into dChosen and
// dRejected when they are not nil; the reference gets none.
func DPO[F Float](cfg DPOConfig, policyChosen, policyRejected, refChosen, refRejected []F, dChosen, dRejected []F) (DPOMetrics, error) {
	if err := cfg.Validate(); err != nil {
		return DPOMetrics{}, err
	}
	n := len(policyChosen)
	if n == 0 {
		return DPOMetrics{}, fmt.Errorf("dpo: empty batch")
	}
	if err := errors.Join(checkLen("policy rejected", len(policyRejected), n), checkLen("reference chosen", len(refChosen), n),
		checkLen("reference rejected", len(refRejected), n), checkGrad("chosen", dChosen, n), checkGrad("rejected", dRejected, n)); err != nil {
		return DPOMetrics{}, fmt.Errorf("dpo: %w", err)
	}
	beta, eps := cfg.Beta, cfg.LabelSmoothing
	inv := 1 / float64(n)
	var m DPOMetrics
	for i := range n {
		pw, pl := float64(policyChosen[i]), float64(policyRejected[i])
		rw, rl := float64(refChosen[i]), float64(refRejected[i])
		h := (pw - rw) - (pl - rl)
		var loss, dh float64
		switch cfg.LossType {
		case DPOSigmoid:
			loss = (1-eps)*softplus(-beta*h) + eps*softplus(beta*h)
			dh = -beta*(1-eps)*sigmoid(-beta*h) + beta*eps*sigmoid(beta*h)
		case DPOIPO:
			d := h - 1/(2*beta)
			loss, dh = d*d, 2*d
		case DPOHinge:
			loss = math.Max(0, 1-beta*h)
			if beta*h < 1 {
				dh = -beta
			}
		}
		m.Loss += loss
		if dChosen != nil {
			dChosen[i] = F(dh * inv)
		}
		if dRejected != nil {
			dRejected[i] = F(-dh * inv)
		}
		cr, rr := beta*(pw-rw), beta*(pl-rl)
		m.RewardsChosen += cr
		m.RewardsRejected += rr
		if cr > rr {
			m.RewardsAccuracy++
		}
		m.LogpsChosen += pw
		m.LogpsRejected += pl
	}
	m.Loss *= inv
	m.RewardsChosen *= inv
	m.RewardsRejected *= inv
	m.RewardsMargins = m.RewardsChosen - m.RewardsRejected
	m.RewardsAccuracy *= inv
	m.LogpsChosen *= inv
	m.LogpsRejected *= inv
	return m, nil
}
