package stages

import (
	"fmt"
	"math"

	"pipeline/graphs"
	"pipeline/optim"
)

// optimOptions are the optimisation keys every training stage shares (inlined into its options).
type optimOptions struct {
	BatchSize   int     `yaml:"batch_size" doc:"sequences per micro-batch"`
	GradAccum   int     `yaml:"grad_accum" doc:"micro-batches per optimiser step; the loss is normalised by the step's total target tokens"`
	MaxSteps    int     `yaml:"max_steps" doc:"optimiser steps"`
	LR          float64 `yaml:"lr" doc:"peak learning rate, reached at the end of warmup"`
	MinLRRatio  float64 `yaml:"min_lr_ratio" doc:"the cosine decay's floor as a fraction of lr"`
	WarmupSteps int     `yaml:"warmup_steps" doc:"steps of linear warmup"`
	WeightDecay float64 `yaml:"weight_decay" doc:"AdamW's decoupled weight decay, on matrices only (not biases, LayerNorm or embeddings)"`
	Beta1       float64 `yaml:"beta1" doc:"AdamW's first-moment decay"`
	Beta2       float64 `yaml:"beta2" doc:"AdamW's second-moment decay"`
	GradClip    float64 `yaml:"grad_clip" doc:"clip the global gradient norm to this; 0 turns clipping off"`
}

// defaultOptim is nanoGPT's recipe for small models, with the given peak rate and length.
func defaultOptim(lr float64, steps int) optimOptions {
	return optimOptions{BatchSize: 16, GradAccum: 1, MaxSteps: steps, LR: lr, MinLRRatio: 0.1,
		WarmupSteps: steps / 10, WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.95, GradClip: 1.0}
}

func (o *optimOptions) validate(report func(key, msg string)) {
	positive(report, "batch_size", o.BatchSize)
	positive(report, "grad_accum", o.GradAccum)
	stepsOK := stepCount(report, "max_steps", o.MaxSteps, 1)
	if !(o.LR > 0) || math.IsInf(o.LR, 0) {
		report("lr", fmt.Sprintf("must be a positive number, got %g", o.LR))
	}
	if o.WarmupSteps < 0 {
		report("warmup_steps", fmt.Sprintf("must not be negative, got %d", o.WarmupSteps))
	} else if stepsOK && o.WarmupSteps > o.MaxSteps {
		report("warmup_steps", fmt.Sprintf("%d warmup steps exceed max_steps %d", o.WarmupSteps, o.MaxSteps))
	}
	validateRatios(report, o.MinLRRatio, o.Beta1, o.Beta2)
	if o.WeightDecay < 0 {
		report("weight_decay", "must not be negative")
	}
	if o.GradClip < 0 {
		report("grad_clip", "must not be negative")
	}
}

// validateRatios reports a min_lr_ratio outside [0, 1] and AdamW's beta1 or beta2 outside [0, 1), the
// checks ppo, with optimizer keys of its own, shares with optimOptions.
func validateRatios(report func(key, msg string), minLRRatio, beta1, beta2 float64) {
	if !(minLRRatio >= 0 && minLRRatio <= 1) {
		report("min_lr_ratio", fmt.Sprintf("must be in [0, 1], got %g", minLRRatio))
	}
	if !(beta1 >= 0 && beta1 < 1) {
		report("beta1", fmt.Sprintf("must be in [0, 1), got %g", beta1))
	}
	if !(beta2 >= 0 && beta2 < 1) {
		report("beta2", fmt.Sprintf("must be in [0, 1), got %g", beta2))
	}
}

func (o *optimOptions) schedule() optim.Schedule {
	return optim.Schedule{PeakLR: o.LR, MinLR: o.LR * o.MinLRRatio, WarmupSteps: o.WarmupSteps, TotalSteps: o.MaxSteps}
}

func (o *optimOptions) adamW() optim.AdamWConfig {
	return optim.AdamWConfig{Beta1: o.Beta1, Beta2: o.Beta2, Eps: 1e-8, WeightDecay: o.WeightDecay}
}

// paramSpecs describes the model's parameter slab to the optimiser.
func paramSpecs(p *graphs.Params) []optim.Spec {
	specs := make([]optim.Spec, len(p.Layout))
	for i, info := range p.Layout {
		specs[i] = optim.Spec{Name: info.Name, Shape: info.Shape, Offset: info.Offset, Size: info.Size}
	}
	return specs
}

// maxUpdates bounds a stage's optimizer updates: step checkpoints are named with 8 digits, and no run on
// this kind of machine comes near it, so a larger count is a typo, and step arithmetic cannot overflow.
const maxUpdates = 99_999_999

// stepCount reports a max_steps that is not positive or, at updatesPerStep optimizer updates a step,
// makes more than maxUpdates, and says whether it is usable.
func stepCount(report func(key, msg string), key string, v, updatesPerStep int) bool {
	switch {
	case v <= 0:
		report(key, fmt.Sprintf("must be positive, got %d", v))
	case v > maxUpdates/updatesPerStep:
		report(key, fmt.Sprintf("%d steps of %d optimizer updates exceed the %d updates a stage can checkpoint", v, updatesPerStep, maxUpdates))
	default:
		return true
	}
	return false
}

func positive(report func(key, msg string), key string, v int) {
	if v <= 0 {
		report(key, fmt.Sprintf("must be positive, got %d", v))
	}
}

// seqLenWithin reports a seq_len outside [0, n_positions]; 0 means the whole context.
func seqLenWithin(report func(key, msg string), seqLen, nPositions int) {
	if seqLen < 0 || seqLen > nPositions {
		report("seq_len", fmt.Sprintf("must be in [0, model.n_positions = %d], got %d", nPositions, seqLen))
	}
}
