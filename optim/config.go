package optim

import (
	"fmt"
	"math"
)

// AdamWConfig holds AdamW's hyperparameters; the learning rate is not among them; it is passed to
// every Step so that a schedule can set it.
type AdamWConfig struct {
	Beta1       float64 // first-moment decay, e.g. 0.9
	Beta2       float64 // second-moment decay, e.g. 0.95 (nanoGPT) or 0.999 (PyTorch's default)
	Eps         float64 // added to sqrt(vhat) in the denominator, e.g. 1e-8
	WeightDecay float64 // decoupled decay coefficient lambda, e.g. 0.1; 0 turns decay off
	// DecayEmbeddings extends weight decay to wte.weight and wpe.weight. Off by default: decay pulls
	// the rows of rarely seen tokens towards zero while the token is absent, and with tied
	// embeddings wte is also the output head, whose rows should not shrink for rare tokens.
	// nanoGPT decays them (it decays every tensor of rank >= 2); set this to match nanoGPT.
	DecayEmbeddings bool
}

// Decays reports whether a tensor receives weight decay: tensors of rank >= 2 (the linear
// weights) do, except the embedding tables unless DecayEmbeddings; rank-1 tensors (biases and
// LayerNorm gains and biases) never do.
func (c AdamWConfig) Decays(s Spec) bool {
	return len(s.Shape) >= 2 && (c.DecayEmbeddings || !isEmbedding(s.Name))
}

// validate rejects hyperparameters PyTorch rejects, plus non-finite ones.
func (c AdamWConfig) validate() error {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case !finite(c.Beta1) || c.Beta1 < 0 || c.Beta1 >= 1:
		return fmt.Errorf("optim: beta1 %g is not in [0, 1)", c.Beta1)
	case !finite(c.Beta2) || c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("optim: beta2 %g is not in [0, 1)", c.Beta2)
	case !finite(c.Eps) || c.Eps < 0:
		return fmt.Errorf("optim: eps %g is negative or not finite", c.Eps)
	case !finite(c.WeightDecay) || c.WeightDecay < 0:
		return fmt.Errorf("optim: weight decay %g is negative or not finite", c.WeightDecay)
	}
	return nil
}
