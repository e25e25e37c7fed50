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
	RPOAlpha       float64     `yaml:"rpo_alpha"`       // α >= 0: weight of the chosen completions' NLL (RPO); 0 is off
}

// Validate refuses a β that is not positive, an unknown loss type, label smoothing outside [0, 0.5)
// or with a loss other than sigmoid (where TRL would ignore it silently), and an rpo_alpha that is
// negative or not finite.
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
	if !(c.RPOAlpha >= 0 && !math.IsInf(c.RPOAlpha, 1)) {
		return fmt.Errorf("dpo: rpo_alpha %g must be finite and >= 0", c.RPOAlpha)
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
	NLLLoss         float64 `json:"nll_loss"` // the chosen completions' NLL per token; computed only when RPOAlpha > 0
}

// DPO is TRL's dpo_loss over N preference pairs. Inputs are per completion: the policy's and the
// frozen reference's log-probabilities of the chosen (w) and rejected (l) completion, each summed over
// the completion's tokens (for ipo TRL divides each by the completion's length first; so should the
// caller). With the log-ratio difference
//
//	h_i = (π_w,i - ref_w,i) - (π_l,i - ref_l,i)
//
// the loss is J = 1/N Σ_i L(h_i) + α NLL with
//
//	sigmoid: L(h) = -(1-ε) log σ(βh) - ε log σ(-βh)     L'(h) = -β(1-ε) σ(-βh) + βε σ(βh)
//	ipo:     L(h) = (h - 1/(2β))²                       L'(h) = 2 (h - 1/(2β))
//	hinge:   L(h) = relu(1 - βh)                        L'(h) = -β if βh < 1, else 0
//
// At policy = reference (h = 0, sigmoid, ε = 0, α = 0) the loss is ln 2 for every β and the gradient
// is -β/(2N) on each chosen log-prob and +β/(2N) on each rejected one. The gradient with respect to the
// policy log-probs, dJ/dπ_w,i = L'(h_i)/N - α c_i/K and dJ/dπ_l,i = -L'(h_i)/N, is written into dChosen
// and dRejected when they are not nil; the reference gets none.
//
// RPO (Pang et al. 2024, "Iterative Reasoning Preference Optimization"; TRL's DPOConfig.rpo_alpha = α,
// cfg.RPOAlpha here) adds α times the negative log-likelihood of the chosen completions, averaged over
// every chosen completion token of the batch (not per sequence): with n_i = chosenTokens[i] the number
// of completion tokens of chosen side i, K = Σ_i n_i, and S_i = c_i π_w,i the side's summed log-prob,
//
//	NLL = -Σ_i S_i / K        c_i = n_i for ipo (π_w,i is then the per-token mean), 1 otherwise
//	J   = 1/N Σ_i L(h_i) + α NLL
//	dJ/dπ_w,i += -α c_i / K   (so dJ/dS_i = L'(h_i)/(N c_i) - α/K: each token's log-prob gets -α/K)
//
// This is TRL's trl/trainer/dpo_trainer.py: DPOTrainer.concatenated_forward sets
// output["nll_loss"] = F.cross_entropy(chosen logits, chosen labels, ignore_index=0) with the default
// reduction "mean" (labels outside the completion set to 0, so the mean runs over the batch's chosen
// completion tokens), and DPOTrainer.get_batch_loss_metrics adds losses = losses + rpo_alpha * nll_loss
// before losses.mean() and logs metrics["nll_loss"]. (TRL's ignore_index=0 also drops a real completion
// token of id 0 from that mean; here every completion token counts.) With α = 0 the loss and gradients
// are bit for bit those of plain DPO, chosenTokens is not read and may be nil, and NLLLoss is 0. With
// α > 0, chosenTokens must give N counts >= 0 whose sum is positive (TRL's mean over no token is NaN).
func DPO[F Float](cfg DPOConfig, policyChosen, policyRejected, refChosen, refRejected []F, chosenTokens []int, dChosen, dRejected []F) (DPOMetrics, error) {
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
	alpha, rpo := cfg.RPOAlpha, cfg.RPOAlpha > 0
	var invTokens float64 // 1/K
	if rpo {
		if err := checkLen("chosen token counts", len(chosenTokens), n); err != nil {
			return DPOMetrics{}, fmt.Errorf("dpo: rpo_alpha %g: %w", alpha, err)
		}
		k := 0
		for i, c := range chosenTokens {
			if c < 0 {
				return DPOMetrics{}, fmt.Errorf("dpo: chosen token count %d of pair %d is negative", c, i)
			}
			k += c
		}
		if k == 0 {
			return DPOMetrics{}, fmt.Errorf("dpo: rpo_alpha %g: no chosen completion token to take the NLL over", alpha)
		}
		invTokens = 1 / float64(k)
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
		dw := dh * inv
		if rpo {
			c := 1.0 // dS_i/dπ_w,i
			if cfg.LossType == DPOIPO {
				c = float64(chosenTokens[i])
			}
			m.NLLLoss -= c * pw
			dw -= alpha * c * invTokens
		}
		if dChosen != nil {
			dChosen[i] = F(dw)
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
	if rpo {
		m.NLLLoss *= invTokens
		m.Loss += alpha * m.NLLLoss
	}
	m.RewardsChosen *= inv
	m.RewardsRejected *= inv
	m.RewardsMargins = m.RewardsChosen - m.RewardsRejected
	m.RewardsAccuracy *= inv
	m.LogpsChosen *= inv
	m.LogpsRejected *= inv
	return m, nil
}
