package stages

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"pipeline/atomicfile"
	"pipeline/graphs"
	"pipeline/losses"
	"pipeline/optim"
	"pipeline/pipeline"
	"pipeline/plots"
	"pipeline/safetensors"
	"pipeline/textdata"
	"pipeline/tokenizer"
	"pipeline/train"
)

// dpo trains the policy directly on preference pairs (x, y_w, y_l) against a frozen reference π_ref,
// Direct Preference Optimization (Rafailov et al. 2023), with TRL's loss types:
//
//	h = (log π(y_w|x) - log π_ref(y_w|x)) - (log π(y_l|x) - log π_ref(y_l|x))
//	sigmoid  L = -E[(1-ε) log σ(βh) + ε log σ(-βh)]
//	ipo      L = E[(h - 1/(2β))²], the log-probabilities averaged over each completion's tokens
//	hinge    L = E[max(0, 1 - βh)]
//	rpo_alpha α > 0 adds α NLL_w, NLL_w = -Σ log π(y_w|x) / (number of chosen completion tokens), the
//	         mean over every chosen completion token of the step's pairs (RPO, Pang et al. 2024; TRL's
//	         rpo_alpha: see losses.DPO)
//
// where log π(y|x) sums over the completion's tokens only (the prompt is context, never scored) and
// β log(π/π_ref) is the implicit reward. The reference's log-probabilities are computed once, before
// the first step, for the held-out pairs and the training pairs the run will draw (a short run reads
// few of them), and stored; the policy's are differentiated through the model (see seqlogp.go). At
// the first step π = π_ref, so h = 0 and the sigmoid loss is ln 2 whatever β, with a gradient of
// -β/(2N) on each chosen log-probability and +β/(2N) on each rejected one (N pairs a step): never zero.
//
// A LoRA adapter as init (sft's method lora without merge) trains on as an adapter over its frozen base.
// Without a reference named, the reference is that base: the policy's own model with the adapter switched
// off, as TRL does for a PEFT model without a ref_model, so no second copy of the weights is held (and
// the first step's h is then the SFT adapter's log-ratio, not 0). A named reference, the init stage
// itself included, is loaded apart as usual.
type dpoKind struct{}

// dpoOptions are the dpo stage's options.
type dpoOptions struct {
	Init              string `yaml:"init" ref:"pretrain|sft" required:"true" doc:"the checkpoint the policy starts from; a LoRA adapter (sft's lora without merge) trains on as one"`
	Reference         string `yaml:"reference" ref:"pretrain|sft" doc:"the frozen reference model, loaded apart from the policy; empty means init's checkpoint, or for a LoRA adapter as init its base, scored by the policy's model with the adapter off"`
	prefData          `yaml:",inline"`
	Beta              float64 `yaml:"beta" doc:"β: the implicit reward is β log(π/π_ref); larger keeps the policy closer to the reference"`
	LossType          string  `yaml:"loss_type" doc:"sigmoid (DPO), ipo (log-probabilities averaged per completion token) or hinge"`
	LabelSmoothing    float64 `yaml:"label_smoothing" doc:"ε in [0, 0.5): the assumed rate of flipped preferences (conservative DPO); sigmoid only"`
	RPOAlpha          float64 `yaml:"rpo_alpha" doc:"α >= 0: adds α times the NLL of the chosen completions, per chosen completion token over the step's pairs, to the loss (RPO, Pang et al. 2024; TRL's DPOConfig.rpo_alpha, logged as nll_loss); 0 is off"`
	SeqLen            int     `yaml:"seq_len" doc:"tokens per side (prompt + completion; longer sides lose their end); 0 means the init model's n_positions"`
	optimOptions      `yaml:",inline"`
	evalCadence       `yaml:",inline"`
	checkpointOptions `yaml:",inline"`
}

func (dpoKind) Name() string { return "dpo" }
func (dpoKind) Doc() string {
	return "align the policy on preference pairs against a frozen reference: min -log σ(β((log π_w - log ref_w) - (log π_l - log ref_l))); batch_size counts pairs"
}

// IgnoresModel: the policy and the reference come from checkpoints, whose fingerprints cover the model
// block.
func (dpoKind) IgnoresModel() {}

// Defaults: TRL's β = 0.1 and sigmoid loss; a peak rate 30x below pretraining's, since DPO only
// reweights what the model already says, and no weight decay, which would pull the policy towards
// zero rather than towards the reference.
func (dpoKind) Defaults() any {
	opt := defaultOptim(1e-4, 200)
	opt.BatchSize, opt.WeightDecay = 8, 0
	return &dpoOptions{Beta: 0.1, LossType: string(losses.DPOSigmoid), optimOptions: opt,
		evalCadence: evalCadence{EvalEvery: 50}, checkpointOptions: checkpointEvery(50)}
}

func (dpoKind) Validate(opts any, run *pipeline.Config, report func(key, msg string)) {
	o := opts.(*dpoOptions)
	// losses.DPOConfig holds the rules; each key is checked with the others set to valid values.
	if err := (losses.DPOConfig{Beta: o.Beta, LossType: losses.DPOSigmoid}).Validate(); err != nil {
		report("beta", err.Error())
	}
	if err := (losses.DPOConfig{Beta: 1, LossType: losses.DPOLossType(o.LossType)}).Validate(); err != nil {
		report("loss_type", err.Error())
	} else if err := (losses.DPOConfig{Beta: 1, LossType: losses.DPOLossType(o.LossType), LabelSmoothing: o.LabelSmoothing}).Validate(); err != nil {
		report("label_smoothing", err.Error())
	}
	if err := (losses.DPOConfig{Beta: 1, LossType: losses.DPOSigmoid, RPOAlpha: o.RPOAlpha}).Validate(); err != nil {
		report("rpo_alpha", err.Error())
	}
	o.prefData.validate(run, report)
	// The init checkpoint has the model block's context (pretrain, or a fine-tuning of it).
	seqLenWithin(report, o.SeqLen, run.Model.NPositions)
	o.optimOptions.validate(report)
	o.evalCadence.validate(report)
	o.checkpointOptions.validate(report)
}

func (o *dpoOptions) loss() losses.DPOConfig {
	return losses.DPOConfig{Beta: o.Beta, LossType: losses.DPOLossType(o.LossType), LabelSmoothing: o.LabelSmoothing, RPOAlpha: o.RPOAlpha}
}

func (dpoKind) Run(ctx context.Context, env *pipeline.Env, opts any) error {
	o := opts.(*dpoOptions)

	// 1. The policy (architecture from its checkpoint), its tokenizer, and the reference's checkpoint.
	initDir, err := env.Input(o.Init)
	if err != nil {
		return err
	}
	pol, err := loadPolicy(initDir)
	if err != nil {
		return err
	}
	if pol.adapter != nil && pol.adapter.Config.PeftType != graphs.LoRA {
		return fmt.Errorf("init %s is a %s adapter; dpo trains a full checkpoint or a LoRA adapter", initDir, pol.method())
	}
	adapterOff := pol.adapter != nil && o.Reference == ""
	refDir := initDir
	if o.Reference != "" {
		if refDir, err = env.Input(o.Reference); err != nil {
			return err
		}
	}
	cfg := pol.cfg
	tok, err := tokenizer.Load(initDir)
	if err != nil {
		return err
	}
	if err := sameTokenizer(initDir, refDir); err != nil {
		return err
	}
	pad, ok := tok.SpecialID("<|endoftext|>")
	if !ok {
		return fmt.Errorf("%s: the tokenizer has no <|endoftext|>, which ends every completion", initDir)
	}
	T := o.SeqLen
	if T == 0 {
		T = cfg.NPositions
	}
	if T > cfg.NPositions {
		return fmt.Errorf("seq_len %d exceeds the init model's n_positions %d", T, cfg.NPositions)
	}
	B := o.BatchSize
	reference := refDir
	if adapterOff {
		reference = pol.baseDir + " (the policy with its LoRA adapter off)"
	}
	env.Logf("policy from %s, reference %s; β %g, loss %s, label smoothing %g, rpo_alpha %g; %d pairs x %d micro-batches per step, %d tokens per side",
		initDir, reference, o.Beta, o.LossType, o.LabelSmoothing, o.RPOAlpha, B, o.GradAccum, T)

	// 2. The preference pairs, each side cut to T tokens.
	trainFiles, evalFiles, err := o.pairFiles(env)
	if err != nil {
		return err
	}
	trainPairs, _, err := loadPairFiles(env, trainFiles, tok, T)
	if err != nil {
		return err
	}
	evalPairs, _, err := loadPairFiles(env, evalFiles, tok, T)
	if err != nil {
		return err
	}

	// 3. The policy twice over one parameter store: forward only (log-probabilities) and with backward.
	// What trains is the checkpoint's weights, or the LoRA adapter over the frozen base.
	trained := pol.base
	if pol.adapter != nil {
		trained = pol.adapter.Params
	}
	fwd, err := graphs.NewModelWith(cfg, pol.base, 2*B, T, graphs.ModelOptions{Adapter: pol.adapter})
	if err != nil {
		return err
	}
	defer fwd.Close()
	net, err := graphs.NewModelWith(cfg, pol.base, 2*B, T, graphs.ModelOptions{Train: true, Adapter: pol.adapter})
	if err != nil {
		return err
	}
	defer net.Close()
	obj := &dpoObjective{cfg: o.loss(), forward: fwd, policy: net, pad: pad}
	all := len(pol.base.Data)
	if pol.adapter != nil {
		_, all = pol.adapter.Counts(cfg)
	}
	env.Logf("policy %s: %d of %d parameters trainable (%.2f%%)", pol.method(), len(trained.Data), all,
		100*float64(len(trained.Data))/float64(all))
	env.SetSummary("trainable_params", len(trained.Data))

	// 4. The frozen reference's log-probabilities of the training pairs the loop will draw and of every
	// held-out pair, computed once.
	seed := uint64(env.Config.Seed)
	drawn, err := drawnPairs(len(trainPairs), seed, o.MaxSteps*o.GradAccum*B)
	if err != nil {
		return err
	}
	ref := checkpointReference(refDir, B, T)
	if adapterOff {
		ref = adapterOffReference(fwd)
	}
	refTrain, refEval, err := referenceLogps(env.Path(refLogpsFile), ref, pad, trainPairs, drawn, evalPairs)
	if err != nil {
		return err
	}
	env.Logf("reference log-probs of %d of %d training pairs and %d held-out pairs", len(drawn), len(trainPairs), len(evalPairs))

	// 5. The held-out numbers of the policy before any step.
	before, err := heldOutBefore(env, obj, evalPairs, refEval)
	if err != nil {
		return err
	}

	// 6. The loop: each step draws GradAccum micro-batches of B pairs, in seeded epochs.
	// drawnPairs replays this order: the two must draw alike.
	order, err := textdata.NewEpochs(len(trainPairs), seed)
	if err != nil {
		return err
	}
	specs := paramSpecs(trained)
	opt, err := optim.NewAdamW(specs, o.adamW())
	if err != nil {
		return err
	}
	micro := make([][]int, o.GradAccum)
	for i := range micro {
		micro[i] = make([]int, B)
	}
	accum := make([]float32, len(trained.Data))
	loop := &train.Loop{
		Dir: env.Dir, Specs: specs, Params: trained.Data, Grads: accum, Opt: opt,
		Schedule: o.schedule(), MaxSteps: o.MaxSteps, GradClip: o.GradClip,
		EvalEvery: o.EvalEvery, CheckpointEvery: o.Checkpoint, KeepLast: o.KeepLast,
		Data: order, Metrics: env.Metrics, Progress: env.Progress(o.MaxSteps, "dpo"), Logf: env.Logf, Checkpointed: env.MarkProgress,
	}
	loop.Step = func(ctx context.Context, step int) (train.Result, error) {
		if testHookDPOStep != nil {
			testHookDPOStep(step)
		}
		for _, idx := range micro {
			for j := range idx {
				idx[j] = order.Next()
			}
		}
		if testHookDPODraws != nil {
			testHookDPODraws(micro)
		}
		return obj.step(trainPairs, refTrain, micro, accum)
	}
	loop.Eval = func(ctx context.Context) (map[string]float64, error) {
		return obj.heldOut(evalPairs, refEval)
	}
	if err := loop.Run(ctx); err != nil {
		return err
	}

	// 7. The result: a Hugging Face checkpoint (or the LoRA adapter over init's base) with its tokenizer,
	// curves, and held-out before and after.
	if pol.adapter == nil {
		err = graphs.Save(env.Dir, cfg, pol.base)
	} else {
		pol.adapter.Config.BaseModelNameOrPath = baseReference(env.Dir, pol.baseDir)
		err = graphs.SaveAdapter(env.Dir, cfg, pol.adapter)
	}
	if err != nil {
		return err
	}
	if err := writeTokenizer(initDir, env.Dir, cfg.NPositions); err != nil {
		return err
	}
	title := "dpo: " + env.Config.Run
	if err := plots.Curves(env.Path("metrics.jsonl"), env.Path("loss.png"), title, "DPO loss", "loss", "val_loss"); err != nil {
		return err
	}
	if err := plots.Curves(env.Path("metrics.jsonl"), env.Path("rewards.png"), title, "implicit reward β log(π/π_ref)",
		"rewards/chosen", "rewards/rejected", "val_rewards/margins"); err != nil {
		return err
	}
	after, err := obj.heldOut(evalPairs, refEval)
	if err != nil {
		return err
	}
	env.SetSummary("before", before)
	env.SetSummary("after", after)
	env.Logf("held-out, %d pairs, before -> after DPO: loss %.4f -> %.4f, implicit-reward accuracy %.3f -> %.3f, "+
		"choice accuracy %.3f -> %.3f, exact match %.3f -> %.3f", len(evalPairs), before["val_loss"], after["val_loss"],
		before["val_rewards/accuracies"], after["val_rewards/accuracies"], before["val_choice_accuracy"],
		after["val_choice_accuracy"], before["val_exact_match"], after["val_exact_match"])
	return nil
}

// dpoObjective is the DPO loss of a policy held as two models over one parameter store.
type dpoObjective struct {
	cfg     losses.DPOConfig
	forward *graphs.Model // 2B rows, no backward pass: log-probabilities
	policy  *graphs.Model // 2B rows, with backward pass: gradients
	pad     int
}

// scale is what a side's summed log-probability is multiplied by before the loss reads it: TRL's ipo
// averages over the completion's tokens, sigmoid and hinge take the sum. A side with no completion token
// left after truncation scores 0.
func (d *dpoObjective) scale(s textdata.Sequence) float64 {
	if n := s.Targets(); d.cfg.LossType == losses.DPOIPO && n > 0 {
		return 1 / float64(n)
	}
	return 1
}

// step computes the DPO loss of one optimiser step over the micro-batches of pair indices micro, the
// mean over all their pairs, and adds its gradient into grads. Every micro-batch is run forward first,
// so that the loss and its gradient dL/d log π of each side are known before any backward pass. A pair
// whose reference log-probability is NaN (never scored, see drawnPairs) is an error.
//
// With rpo_alpha the NLL term is normalised like the DPO term: the step's micro-batches are one batch,
// so the NLL is the mean over every chosen completion token of all of them, and grad_accum k with
// batch_size B gives the loss and gradient of batch_size kB. (TRL, under gradient accumulation, averages
// each micro-batch's own per-token mean instead; the two differ when micro-batches hold different numbers
// of chosen tokens.)
func (d *dpoObjective) step(pairs []textdata.Pair, ref pairLogps, micro [][]int, grads []float32) (train.Result, error) {
	n := len(micro) * len(micro[0])
	var pol, rf pairLogps
	var chosenTokens []int
	batches := make([]textdata.Batch, len(micro))
	for i, idx := range micro {
		for _, p := range idx {
			if math.IsNaN(ref.Chosen[p]) || math.IsNaN(ref.Rejected[p]) {
				return train.Result{}, fmt.Errorf("training pair %d has no reference log-probability", p)
			}
		}
		sel := make([]textdata.Pair, len(idx))
		for j, p := range idx {
			sel[j] = pairs[p]
		}
		b, err := textdata.PairBatch(sel, d.forward.T, d.pad)
		if err != nil {
			return train.Result{}, err
		}
		sums, _, err := completionLogps(d.forward, b)
		if err != nil {
			return train.Result{}, err
		}
		for j, p := range idx {
			cw, cl := d.scale(pairs[p].Chosen), d.scale(pairs[p].Rejected)
			pol.Chosen = append(pol.Chosen, sums[j]*cw)
			pol.Rejected = append(pol.Rejected, sums[len(idx)+j]*cl)
			rf.Chosen = append(rf.Chosen, ref.Chosen[p]*cw)
			rf.Rejected = append(rf.Rejected, ref.Rejected[p]*cl)
			chosenTokens = append(chosenTokens, pairs[p].Chosen.Targets())
		}
		batches[i] = b
	}
	dw, dl := make([]float64, n), make([]float64, n)
	m, err := losses.DPO(d.cfg, pol.Chosen, pol.Rejected, rf.Chosen, rf.Rejected, chosenTokens, dw, dl)
	if err != nil {
		return train.Result{}, err
	}
	k := 0
	for i, idx := range micro {
		dSums := make([]float64, 2*len(idx)) // chosen rows, then rejected rows, as PairBatch lays them out
		for j, p := range idx {
			dSums[j] = dw[k] * d.scale(pairs[p].Chosen)
			dSums[len(idx)+j] = dl[k] * d.scale(pairs[p].Rejected)
			k++
		}
		if err := backwardCompletionLogps(d.policy, batches[i], dSums); err != nil {
			return train.Result{}, err
		}
		for j, g := range gradients(d.policy) {
			grads[j] += g
		}
	}
	return train.Result{Loss: m.Loss, Tokens: 2 * n * d.forward.T, Metrics: d.metrics(m, "")}, nil
}

// heldOut scores the policy on every held-out pair: the mean DPO loss (val_loss, which picks the best
// checkpoint; with rpo_alpha it includes α times val_nll_loss, the NLL per chosen completion token over
// all held-out pairs, as TRL's eval loss does), TRL's implicit-reward metrics, and two numbers that
// need no reference:
//
//	val_choice_accuracy  the share of pairs whose chosen side the policy gives the higher log-probability
//	                     (as the loss reads it): lm-eval's multiple-choice acc over {chosen, rejected}
//	val_exact_match      the share of prompts from which greedy decoding writes exactly the chosen
//	                     completion and its <|endoftext|> (every completion token is the argmax)
//
// At π = π_ref every implicit reward is 0, so val_rewards/accuracies, which counts chosen > rejected
// strictly, is 0 before the first step.
func (d *dpoObjective) heldOut(pairs []textdata.Pair, ref pairLogps) (map[string]float64, error) {
	s, err := scorePairs(d.forward, pairs, d.pad)
	if err != nil {
		return nil, err
	}
	var pol, rf pairLogps
	var chosenTokens []int
	choice, exact := 0, 0
	for i, p := range pairs {
		cw, cl := d.scale(p.Chosen), d.scale(p.Rejected)
		pol.Chosen, pol.Rejected = append(pol.Chosen, s.Chosen[i]*cw), append(pol.Rejected, s.Rejected[i]*cl)
		rf.Chosen, rf.Rejected = append(rf.Chosen, ref.Chosen[i]*cw), append(rf.Rejected, ref.Rejected[i]*cl)
		chosenTokens = append(chosenTokens, p.Chosen.Targets())
		if pol.Chosen[i] > pol.Rejected[i] {
			choice++
		}
		if s.ChosenGreedy[i] {
			exact++
		}
	}
	m, err := losses.DPO(d.cfg, pol.Chosen, pol.Rejected, rf.Chosen, rf.Rejected, chosenTokens, nil, nil)
	if err != nil {
		return nil, err
	}
	out := d.metrics(m, "val_")
	out["val_loss"] = m.Loss
	out["val_choice_accuracy"] = float64(choice) / float64(len(pairs))
	out["val_exact_match"] = float64(exact) / float64(len(pairs))
	return out, nil
}

// metrics names the batch means under TRL's keys (the loss is logged as "loss" by the loop), with
// nll_loss only when rpo_alpha is on, as TRL logs it.
func (d *dpoObjective) metrics(m losses.DPOMetrics, prefix string) map[string]float64 {
	out := map[string]float64{
		prefix + "rewards/chosen": m.RewardsChosen, prefix + "rewards/rejected": m.RewardsRejected,
		prefix + "rewards/margins": m.RewardsMargins, prefix + "rewards/accuracies": m.RewardsAccuracy,
		prefix + "logps/chosen": m.LogpsChosen, prefix + "logps/rejected": m.LogpsRejected,
	}
	if d.cfg.RPOAlpha > 0 {
		out[prefix+"nll_loss"] = m.NLLLoss
	}
	return out
}

// pairLogps holds a model's summed completion log-probability of each side of each pair.
type pairLogps struct{ Chosen, Rejected []float64 }

// pairScores is pairLogps with, per pair, whether greedy decoding writes the chosen completion.
type pairScores struct {
	pairLogps
	ChosenGreedy []bool
}

// scorePairs runs net (2B rows) forward over pairs in order, B at a time. The last batch is filled up
// with repeats of the last pair, whose scores are dropped.
func scorePairs(net *graphs.Model, pairs []textdata.Pair, pad int) (pairScores, error) {
	B := net.B / 2
	s := pairScores{pairLogps{make([]float64, len(pairs)), make([]float64, len(pairs))}, make([]bool, len(pairs))}
	batch := make([]textdata.Pair, B)
	for lo := 0; lo < len(pairs); lo += B {
		for i := range batch {
			batch[i] = pairs[min(lo+i, len(pairs)-1)]
		}
		b, err := textdata.PairBatch(batch, net.T, pad)
		if err != nil {
			return pairScores{}, err
		}
		sums, greedy, err := completionLogps(net, b)
		if err != nil {
			return pairScores{}, err
		}
		for i := 0; i < B && lo+i < len(pairs); i++ {
			s.Chosen[lo+i], s.Rejected[lo+i], s.ChosenGreedy[lo+i] = sums[i], sums[B+i], greedy[i]
		}
	}
	return s, nil
}

// refLogpsFile holds the reference's log-probabilities in the stage directory: train.index (I64, the
// indices of the training pairs scored, ascending), train.chosen and train.rejected (F64, one element
// per index), eval.chosen and eval.rejected (F64, one element per held-out pair).
const refLogpsFile = "reference_logps.safetensors"

// referenceModel opens the reference as a forward model of 2B rows and returns it with what releases it.
type referenceModel func() (net *graphs.Model, release func() error, err error)

// checkpointReference loads the policy directory refDir (a full checkpoint, or an adapter over one) into
// stores of its own.
func checkpointReference(refDir string, B, T int) referenceModel {
	return func() (*graphs.Model, func() error, error) {
		p, err := loadPolicy(refDir)
		if err != nil {
			return nil, nil, err
		}
		if T > p.context() {
			return nil, nil, fmt.Errorf("seq_len %d exceeds the reference model's context of %d tokens", T, p.context())
		}
		net, err := graphs.NewModelWith(p.cfg, p.base, 2*B, T, graphs.ModelOptions{Adapter: p.adapter})
		if err != nil {
			return nil, nil, err
		}
		return net, net.Close, nil
	}
}

// adapterOffReference is the policy's forward model with its LoRA adapter switched off: the base model
// bit for bit, over the same weights. Releasing it switches the adapter back on.
func adapterOffReference(policy *graphs.Model) referenceModel {
	return func() (*graphs.Model, func() error, error) {
		if err := policy.SetAdapterEnabled(false); err != nil {
			return nil, nil, err
		}
		return policy, func() error { return policy.SetAdapterEnabled(true) }, nil
	}
}

// drawnPairs returns, ascending, the distinct indices among the first draws that textdata.NewEpochs(n,
// seed) deals: the training pairs read by a loop that deals that many from the same order. Only these
// need the reference's log-probabilities; a run shorter than an epoch reads a fraction of the data, and
// scoring the rest would cost more than the training itself.
func drawnPairs(n int, seed uint64, draws int) ([]int, error) {
	order, err := textdata.NewEpochs(n, seed)
	if err != nil {
		return nil, err
	}
	seen := make([]bool, n)
	for range min(draws, n) { // the first n draws are epoch 0, which deals every index once
		seen[order.Next()] = true
	}
	var out []int
	for i, ok := range seen {
		if ok {
			out = append(out, i)
		}
	}
	return out, nil
}

// referenceLogps returns the frozen reference's completion log-probabilities of the training pairs
// drawn (ascending indices; the others are NaN, which the step refuses) and of every held-out pair. The
// first call opens the reference, scores the drawn training pairs B at a time in index order, then the
// held-out pairs in file order, and writes them to path; later calls (a resumed run) read them back, bit
// for bit, without touching the reference or the moved policy.
func referenceLogps(path string, open referenceModel, pad int, trainPairs []textdata.Pair, drawn []int, evalPairs []textdata.Pair) (trainRef, evalRef pairLogps, err error) {
	f, err := safetensors.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if f, err = scoreReference(open, pad, trainPairs, drawn, evalPairs); err == nil {
			err = safetensors.WriteFile(path, f)
		}
	}
	if err != nil {
		return trainRef, evalRef, err
	}
	if trainRef, evalRef, err = readReferenceLogps(f, len(trainPairs), len(evalPairs)); err != nil {
		return trainRef, evalRef, fmt.Errorf("%s: %w", path, err)
	}
	for _, i := range drawn {
		if math.IsNaN(trainRef.Chosen[i]) || math.IsNaN(trainRef.Rejected[i]) {
			return trainRef, evalRef, fmt.Errorf("%s has no reference log-probability of training pair %d, which this run draws", path, i)
		}
	}
	return trainRef, evalRef, nil
}

// scoreReference opens the reference and scores the training pairs drawn and every held-out pair into
// the tensors of refLogpsFile.
func scoreReference(open referenceModel, pad int, trainPairs []textdata.Pair, drawn []int, evalPairs []textdata.Pair) (*safetensors.File, error) {
	net, release, err := open()
	if err != nil {
		return nil, err
	}
	sel := make([]textdata.Pair, len(drawn))
	for k, i := range drawn {
		sel[k] = trainPairs[i]
	}
	out := &safetensors.File{Tensors: map[string]safetensors.Tensor{"train.index": int64Tensor(drawn)}}
	for _, set := range []struct {
		name  string
		pairs []textdata.Pair
	}{{"train", sel}, {"eval", evalPairs}} {
		s, err := scorePairs(net, set.pairs, pad)
		if err != nil {
			release()
			return nil, err
		}
		out.Tensors[set.name+".chosen"] = float64Tensor(s.Chosen)
		out.Tensors[set.name+".rejected"] = float64Tensor(s.Rejected)
	}
	return out, release()
}

// readReferenceLogps reads the tensors of refLogpsFile for nTrain training and nEval held-out pairs. The
// training log-probabilities come back one per pair, NaN for the pairs not scored.
func readReferenceLogps(f *safetensors.File, nTrain, nEval int) (trainRef, evalRef pairLogps, err error) {
	index, err := int64s(f, "train.index")
	if err != nil {
		return trainRef, evalRef, err
	}
	trainRef = pairLogps{make([]float64, nTrain), make([]float64, nTrain)}
	for i := range nTrain {
		trainRef.Chosen[i], trainRef.Rejected[i] = math.NaN(), math.NaN()
	}
	var chosen, rejected []float64
	if chosen, err = float64s(f, "train.chosen", len(index)); err != nil {
		return trainRef, evalRef, err
	}
	if rejected, err = float64s(f, "train.rejected", len(index)); err != nil {
		return trainRef, evalRef, err
	}
	for k, i := range index {
		if i < 0 || i >= int64(nTrain) || (k > 0 && i <= index[k-1]) {
			return trainRef, evalRef, fmt.Errorf("train.index[%d] = %d: want ascending indices below %d", k, i, nTrain)
		}
		trainRef.Chosen[i], trainRef.Rejected[i] = chosen[k], rejected[k]
	}
	if evalRef.Chosen, err = float64s(f, "eval.chosen", nEval); err != nil {
		return trainRef, evalRef, err
	}
	if evalRef.Rejected, err = float64s(f, "eval.rejected", nEval); err != nil {
		return trainRef, evalRef, err
	}
	return trainRef, evalRef, nil
}

// int64Tensor is a 1-D I64 tensor holding v.
func int64Tensor(v []int) safetensors.Tensor {
	data := make([]byte, 0, 8*len(v))
	for _, x := range v {
		data = binary.LittleEndian.AppendUint64(data, uint64(x))
	}
	return safetensors.Tensor{DType: safetensors.I64, Shape: []int{len(v)}, Data: data}
}

// int64s reads the 1-D I64 tensor name, of any length.
func int64s(f *safetensors.File, name string) ([]int64, error) {
	t, ok := f.Tensors[name]
	if !ok || t.DType != safetensors.I64 || len(t.Shape) != 1 || len(t.Data) != 8*t.Shape[0] {
		return nil, fmt.Errorf("want a 1-D I64 tensor %s", name)
	}
	out := make([]int64, t.Shape[0])
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out, nil
}

// float64Tensor is a 1-D F64 tensor holding v.
func float64Tensor(v []float64) safetensors.Tensor {
	data := make([]byte, 0, 8*len(v))
	for _, x := range v {
		data = binary.LittleEndian.AppendUint64(data, math.Float64bits(x))
	}
	return safetensors.Tensor{DType: safetensors.F64, Shape: []int{len(v)}, Data: data}
}

// float64s reads the 1-D F64 tensor name of n elements.
func float64s(f *safetensors.File, name string, n int) ([]float64, error) {
	t, ok := f.Tensors[name]
	if !ok || t.DType != safetensors.F64 || len(t.Shape) != 1 || t.Shape[0] != n || len(t.Data) != 8*n {
		return nil, fmt.Errorf("want an F64 tensor %s of %d elements", name, n)
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out, nil
}

// beforeFile holds the held-out numbers of the policy before its first step.
const beforeFile = "heldout_before.json"

// heldOutBefore scores the policy before its first step on the held-out pairs and logs the numbers as
// step 0, once: they are kept in the stage directory, so a resumed run reads them back instead of
// logging step 0 again.
func heldOutBefore(env *pipeline.Env, obj *dpoObjective, pairs []textdata.Pair, ref pairLogps) (map[string]float64, error) {
	var before map[string]float64
	b, err := os.ReadFile(env.Path(beforeFile))
	if err == nil {
		return before, json.Unmarshal(b, &before)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if before, err = obj.heldOut(pairs, ref); err != nil {
		return nil, err
	}
	if b, err = json.MarshalIndent(before, "", "  "); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(env.Path(beforeFile), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	rec := map[string]any{"step": 0}
	for k, v := range before {
		rec[k] = v
	}
	return before, env.Metrics.Log(rec)
}

// sameTokenizer refuses a reference whose tokenizer is not the policy's: the two would score different
// token sequences, and their log-ratio would mean nothing.
func sameTokenizer(policyDir, refDir string) error {
	if policyDir == refDir {
		return nil
	}
	a, err := os.ReadFile(filepath.Join(policyDir, "tokenizer.json"))
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(refDir, "tokenizer.json"))
	if err != nil {
		return err
	}
	if !bytes.Equal(a, b) {
		return fmt.Errorf("the reference %s has another tokenizer than the policy %s", refDir, policyDir)
	}
	return nil
}

// testHookDPOStep, when set by a test, is called before every DPO step (to interrupt a run at a chosen
// step).
var testHookDPOStep func(step int)

// testHookDPODraws, when set by a test, is told the pair indices of each step's micro-batches.
var testHookDPODraws func(micro [][]int)

func init() { pipeline.Register(dpoKind{}) }
