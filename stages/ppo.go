package stages

import (
	"context"
	"fmt"
	"os"

	"pipeline/graphs"
	"pipeline/optim"
	"pipeline/pipeline"
	"pipeline/plots"
	"pipeline/rlhf"
	"pipeline/sample"
	"pipeline/tokenizer"
	"pipeline/train"
)

// ppo is the RL step of RLHF (Ziegler et al. 2019; Ouyang et al. 2022) in the shape of TRL's
// PPOTrainer: maximise
//
//	E_{x~D, y~π(·|x)}[ r(x, y) - β · log(π(y|x) / π_ref(y|x)) ]
//
// where r is the reward stage's model and π_ref the frozen reference. One PPO iteration
//
//  1. samples batch_size prompts (seeded epochs) and a response to each from the policy (the KV-cache
//     decoder, stopping at <|endoftext|> or after max_new_tokens);
//
//  2. scores prompt + response with the reward model at its last real token, minus
//     missing_eos_penalty when no <|endoftext|> was generated;
//
//  3. computes per token t of the response log π_old(t), log π_ref(t) and the value V_t, and the
//     per-token rewards r_t = -β k1_t, plus the score at the last real token (rlhf.TokenRewards);
//
//  4. advantages by GAE, A_t = δ_t + γλ A_{t+1} with δ_t = r_t + γ V_{t+1} - V_t, returns R_t = A_t +
//     V_t, then A whitened over the batch;
//
//  5. runs ppo_epochs passes over num_minibatches minibatches, each one AdamW update of the policy and
//     the value model together (one optimizer over both, as TRL's PolicyAndValueWrapper) on
//
//     L = masked_mean(max(-A ratio, -A clip(ratio, 1±ε)))                         (losses.PPOClip)
//     + vf_coef · 0.5 masked_mean(max((V - R)², (clip(V, V_old ± εv) - R)²))     (losses.ValueClip)
//
//     with ratio = π(t) / π_old(t).
//
// The value model is separate from the policy: a copy of the reward model whose score head is read at
// every position (graphs.ValueModel), TRL's default; V_t, the value of the state before token t, is
// read at position t-1. β is fixed (kl_coef) or adapted towards target_kl (rlhf.AdaptiveKLController).
// Log-probabilities are the model's own (temperature 1): sampling at another temperature makes the
// rollouts slightly off-policy, which the clipped ratio absorbs. Each optimizer update is one step of
// the training loop: the rollout it learns from is part of the checkpoint, so a run stopped between
// two updates of an iteration resumes bit for bit.
//
// metrics.jsonl has one record per update, under TRL's names: the minibatch's loss/policy_avg,
// loss/value_avg, policy/approxkl_avg, policy/clipfrac_avg, val/clipfrac_avg and val/ratio, and its
// rollout's objective/kl, objective/entropy, objective/non_score_reward, objective/rlhf_reward,
// objective/scores and val/num_eos_tokens (repeated over the iteration's updates), with
// objective/kl_k3 (the k3 estimate, whatever the rewards use), kl_coef (the rollout's β) and
// ppo_iteration. ppo.png draws the scores, the RLHF reward and the KL over the updates.
type ppoKind struct{}

type ppoOptions struct {
	Init              string   `yaml:"init" ref:"pretrain|sft" required:"true" doc:"the checkpoint the policy starts from"`
	Reference         string   `yaml:"reference" ref:"pretrain|sft" doc:"the frozen reference π_ref of the KL penalty; empty means init's checkpoint"`
	RewardModel       string   `yaml:"reward_model" ref:"reward" required:"true" doc:"the reward stage whose model scores the responses; the value model starts as a copy of it"`
	Prompts           string   `yaml:"prompts" ref:"tasks" doc:"a tasks stage whose prompts.jsonl {prompt, answer, pattern} is rolled out; or set prompt_files"`
	TaskNames         []string `yaml:"task_names" doc:"which of the prompts stage's tasks (arithmetic, verse_choice, verse_continue) to roll out and hold out: their own <task>/prompts.jsonl, in this order; empty means every task it wrote (its mixed prompts.jsonl)"`
	PromptFiles       []string `yaml:"prompt_files" file:"true" doc:"JSONL files of records with a \"prompt\" (and \"answer\" and \"pattern\" for the exact-match check; preference files work), globs relative to the config file"`
	EvalPrompts       int      `yaml:"eval_prompts" doc:"the last N prompts are kept out of the rollouts: greedy exact match on them before and after PPO (they need answer and pattern; a tasks stage's prompts.jsonl is its train split, which SFT may have seen); with task_names, the last N/k of each of the k tasks' prompts (the first N mod k tasks one more); 0 skips the check"`
	MaxNewTokens      int      `yaml:"max_new_tokens" doc:"the longest response; a response that reaches it without <|endoftext|> is truncated there"`
	Temperature       float64  `yaml:"temperature" doc:"sampling temperature of the rollouts (the log-probabilities are the model's own, at temperature 1)"`
	MissingEOSPenalty float64  `yaml:"missing_eos_penalty" doc:"subtracted from the score of a response without <|endoftext|> (TRL's missing_eos_penalty); 0 turns it off"`
	KLCoef            float64  `yaml:"kl_coef" doc:"β of the per-token penalty -β·k(log π, log π_ref); the starting β when target_kl is set"`
	KLEstimator       string   `yaml:"kl_estimator" doc:"k1 (log π - log π_ref, TRL's default) or k3 ((r - 1) - log r, r = π_ref/π) in the rewards; both are logged"`
	TargetKL          float64  `yaml:"target_kl" doc:"adaptive β (Ziegler et al.): steer objective/kl towards this; 0 keeps β fixed"`
	KLHorizon         float64  `yaml:"kl_horizon" doc:"the adaptive controller's horizon, in responses"`
	Gamma             float64  `yaml:"gamma" doc:"γ, the discount of GAE"`
	Lam               float64  `yaml:"lam" doc:"λ of GAE"`
	ClipRange         float64  `yaml:"cliprange" doc:"ε: the policy ratio is clipped to [1-ε, 1+ε]"`
	ClipRangeValue    float64  `yaml:"cliprange_value" doc:"εv: the new value is clipped to V_old ± εv"`
	VFCoef            float64  `yaml:"vf_coef" doc:"weight of the value loss in the joint loss"`
	WhitenRewards     bool     `yaml:"whiten_rewards" doc:"whiten the per-token rewards (mean kept) before GAE"`
	BatchSize         int      `yaml:"batch_size" doc:"prompts rolled out per PPO iteration"`
	NumMinibatches    int      `yaml:"num_minibatches" doc:"minibatches the rollout batch is cut into (batch_size must divide evenly)"`
	PPOEpochs         int      `yaml:"ppo_epochs" doc:"passes over each rollout batch"`
	MaxSteps          int      `yaml:"max_steps" doc:"PPO iterations (rollout + ppo_epochs x num_minibatches updates each)"`
	LR                float64  `yaml:"lr" doc:"peak learning rate of the policy and the value model (one AdamW over both)"`
	MinLRRatio        float64  `yaml:"min_lr_ratio" doc:"the cosine decay's floor as a fraction of lr"`
	WarmupSteps       int      `yaml:"warmup_steps" doc:"optimizer updates of linear warmup"`
	WeightDecay       float64  `yaml:"weight_decay" doc:"AdamW's decoupled weight decay, on matrices only"`
	Beta1             float64  `yaml:"beta1" doc:"AdamW's first-moment decay"`
	Beta2             float64  `yaml:"beta2" doc:"AdamW's second-moment decay"`
	GradClip          float64  `yaml:"grad_clip" doc:"clip the global gradient norm (policy and value together) to this; 0 turns clipping off"`
	checkpointOptions `yaml:",inline"`
}

func (ppoKind) Name() string { return "ppo" }
func (ppoKind) Doc() string {
	return "align the policy with a reward model by PPO: max E[r(x,y) - β log(π/π_ref)], clipped ratio, GAE, a value model started from the reward model"
}

// IgnoresModel: the policy, the reference and the reward model come from checkpoints.
func (ppoKind) IgnoresModel() {}

// Defaults are TRL PPOConfig's (kl_coef 0.05, k1, γ 1, λ 0.95, ε 0.2, εv 0.2, vf_coef 0.1, 4 epochs,
// one minibatch, no reward whitening), except temperature 1 (see the log-probabilities above) and a
// learning rate for models of this size rather than TRL's 3e-6 for billions of parameters.
func (ppoKind) Defaults() any {
	return &ppoOptions{MaxNewTokens: 16, Temperature: 1, KLCoef: 0.05, KLEstimator: string(rlhf.KLK1),
		KLHorizon: 10000, Gamma: 1, Lam: 0.95, ClipRange: 0.2, ClipRangeValue: 0.2, VFCoef: 0.1, BatchSize: 16,
		NumMinibatches: 1, PPOEpochs: 4, MaxSteps: 50, LR: 1e-4, MinLRRatio: 0.1, Beta1: 0.9, Beta2: 0.95, GradClip: 1,
		checkpointOptions: checkpointEvery(5)}
}

func (ppoKind) Validate(opts any, run *pipeline.Config, report func(key, msg string)) {
	o := opts.(*ppoOptions)
	switch {
	case o.Prompts != "" && len(o.PromptFiles) > 0:
		report("prompts", "set either prompts (a tasks stage) or prompt_files, not both")
	case o.Prompts == "" && len(o.PromptFiles) == 0:
		report("prompts", "name a tasks stage, or set prompt_files")
	}
	validateTaskNames(run, report, o.TaskNames, taskRef{"prompts", o.Prompts})
	checkDataFiles(run, report, "prompt_files", o.PromptFiles, readPrompts)
	if o.EvalPrompts < 0 {
		report("eval_prompts", "must not be negative")
	}
	positive(report, "max_new_tokens", o.MaxNewTokens)
	if err := (sample.Options{Temperature: o.Temperature}).Validate(); err != nil {
		report("temperature", err.Error())
	}
	if !(o.MissingEOSPenalty >= 0) {
		report("missing_eos_penalty", fmt.Sprintf("must not be negative, got %g", o.MissingEOSPenalty))
	}
	if _, err := rlhf.KLEstimator(o.KLEstimator).Func(); err != nil {
		report("kl_estimator", err.Error())
	}
	if _, err := o.klController(); err != nil {
		report("kl_coef", err.Error())
	}
	for _, p := range []struct {
		key string
		v   float64
	}{{"gamma", o.Gamma}, {"lam", o.Lam}} {
		if !(p.v >= 0 && p.v <= 1) {
			report(p.key, fmt.Sprintf("must be in [0, 1], got %g", p.v))
		}
	}
	for _, p := range []struct {
		key string
		v   float64
	}{{"cliprange", o.ClipRange}, {"cliprange_value", o.ClipRangeValue}, {"vf_coef", o.VFCoef}, {"weight_decay", o.WeightDecay}, {"grad_clip", o.GradClip}} {
		if !(p.v >= 0) {
			report(p.key, fmt.Sprintf("must not be negative, got %g", p.v))
		}
	}
	positive(report, "batch_size", o.BatchSize)
	positive(report, "num_minibatches", o.NumMinibatches)
	if o.NumMinibatches > 0 && o.BatchSize%o.NumMinibatches != 0 {
		report("num_minibatches", fmt.Sprintf("batch_size %d is not a multiple of %d", o.BatchSize, o.NumMinibatches))
	}
	positive(report, "ppo_epochs", o.PPOEpochs)
	updatesOK := o.PPOEpochs > 0 && o.NumMinibatches > 0 && o.PPOEpochs <= maxUpdates/o.NumMinibatches
	perStep := 1
	if updatesOK {
		perStep = o.updates()
	}
	if stepCount(report, "max_steps", o.MaxSteps, perStep) && updatesOK {
		if err := o.schedule().Validate(); err != nil {
			report("lr", err.Error())
		}
	}
	validateRatios(report, o.MinLRRatio, o.Beta1, o.Beta2)
	o.checkpointOptions.validate(report)
}

// updates is the number of optimizer updates per PPO iteration.
func (o *ppoOptions) updates() int { return o.PPOEpochs * o.NumMinibatches }

// schedule counts optimizer updates: warmup_steps of them, then a cosine to the end of max_steps
// iterations.
func (o *ppoOptions) schedule() optim.Schedule {
	return optim.Schedule{PeakLR: o.LR, MinLR: o.LR * o.MinLRRatio, WarmupSteps: o.WarmupSteps, TotalSteps: o.MaxSteps * o.updates()}
}

// klController is β's controller: fixed at kl_coef, or adaptive from kl_coef towards target_kl.
func (o *ppoOptions) klController() (rlhf.KLController, error) {
	if !(o.KLCoef >= 0) {
		return nil, fmt.Errorf("must not be negative, got %g", o.KLCoef)
	}
	if o.TargetKL == 0 {
		return &rlhf.FixedKLController{Coef: o.KLCoef}, nil
	}
	return rlhf.NewAdaptiveKLController(o.KLCoef, o.TargetKL, o.KLHorizon)
}

func (o *ppoOptions) rewardConfig(beta float64) rlhf.RewardConfig {
	return rlhf.RewardConfig{KLCoef: beta, KLEstimator: rlhf.KLEstimator(o.KLEstimator), MissingEOSPenalty: o.MissingEOSPenalty}
}

func (ppoKind) Run(ctx context.Context, env *pipeline.Env, opts any) error {
	o := opts.(*ppoOptions)

	// 1. The policy and its tokenizer, the reference, and the reward model, which must share the tokenizer.
	initDir, err := env.Input(o.Init)
	if err != nil {
		return err
	}
	refDir := initDir
	if o.Reference != "" {
		if refDir, err = env.Input(o.Reference); err != nil {
			return err
		}
	}
	rmDir, err := env.Input(o.RewardModel)
	if err != nil {
		return err
	}
	cfg, policy, err := graphs.Load(initDir)
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(initDir)
	if err != nil {
		return err
	}
	for _, dir := range []string{refDir, rmDir} {
		if err := sameTokenizer(initDir, dir); err != nil {
			return err
		}
	}
	eot, ok := tok.SpecialID(tokenizer.EndOfText)
	if !ok {
		return fmt.Errorf("%s: the tokenizer has no %s, which ends every response", initDir, tokenizer.EndOfText)
	}
	refCfg, refParams, err := graphs.Load(refDir)
	if err != nil {
		return err
	}
	rmCfg, rmParams, err := graphs.LoadReward(rmDir)
	if err != nil {
		return err
	}
	// The value model: a copy of the reward model, trained; the reward model itself stays frozen.
	value := graphs.NewRewardParams(rmCfg)
	copy(value.Data, rmParams.Data)

	// 2. The prompts: the last eval_prompts held out, the longest prompt plus max_new_tokens making T.
	// With task_names each task's prompts are read apart and give their share of the held-out ones.
	files, err := o.promptFiles(env)
	if err != nil {
		return err
	}
	maxLen := min(cfg.NPositions, refCfg.NPositions, rmCfg.NPositions) - o.MaxNewTokens
	groups := [][]string{files}
	if len(o.TaskNames) > 0 {
		groups = groups[:0]
		for _, f := range files {
			groups = append(groups, []string{f})
		}
	}
	var trainPrompts, evalPrompts []ppoPrompt
	dropped := 0
	T := o.MaxNewTokens
	for i, held := range heldOutShares(o.EvalPrompts, len(groups)) {
		prompts, d, err := loadPrompts(groups[i], tok, maxLen)
		if err != nil {
			return err
		}
		dropped += d
		switch {
		case len(o.TaskNames) == 0 && len(prompts) <= held:
			return fmt.Errorf("%d prompts fit the context with max_new_tokens %d (%d longer ones dropped), not more than eval_prompts %d",
				len(prompts), o.MaxNewTokens, d, o.EvalPrompts)
		case len(prompts) <= held:
			return fmt.Errorf("task %s: %d prompts fit the context with max_new_tokens %d (%d longer ones dropped), not more than its %d of eval_prompts %d",
				o.TaskNames[i], len(prompts), o.MaxNewTokens, d, held, o.EvalPrompts)
		}
		if len(o.TaskNames) > 0 {
			env.Logf("%s: %d prompts (%d too long dropped), %d held out", o.TaskNames[i], len(prompts), d, held)
		}
		trainPrompts = append(trainPrompts, prompts[:len(prompts)-held]...)
		evalPrompts = append(evalPrompts, prompts[len(prompts)-held:]...)
		for _, p := range prompts {
			T = max(T, len(p.ids)+o.MaxNewTokens)
		}
	}
	B, mb := o.BatchSize, o.BatchSize/o.NumMinibatches
	env.Logf("policy %s, reference %s, reward model %s; %d prompts (%d too long dropped), %d held out; rows of %d tokens; "+
		"%d prompts x %d epochs x %d minibatches per iteration", initDir, refDir, rmDir, len(trainPrompts), dropped,
		len(evalPrompts), T, B, o.PPOEpochs, o.NumMinibatches)

	// 3. The greedy exact match of the policy before PPO (the loop may restore a checkpoint over it).
	before, err := exactMatch(ctx, cfg, policy, tok, evalPrompts, o.MaxNewTokens, eot)
	if err != nil {
		return err
	}

	// 4. One slab for the policy and the value model, which the loop trains as one.
	ps := newPPOSlab(policy, value)
	ppo, err := newPPORunner(o, ppoModels{cfg: cfg, refCfg: refCfg, rmCfg: rmCfg, policy: policy, ref: refParams, reward: rmParams, value: value},
		trainPrompts, B, mb, T, eot, uint64(env.Config.Seed))
	if err != nil {
		return err
	}
	defer ppo.Close()

	// 5. The loop: one step per optimizer update, a rollout at the first update of each iteration.
	opt, err := optim.NewAdamW(ps.specs, optim.AdamWConfig{Beta1: o.Beta1, Beta2: o.Beta2, Eps: 1e-8, WeightDecay: o.WeightDecay})
	if err != nil {
		return err
	}
	U := o.updates()
	total := o.MaxSteps * U
	loop := &train.Loop{
		Dir: env.Dir, Specs: ps.specs, Params: ps.data, Grads: ps.grads, Opt: opt,
		Schedule: o.schedule(), MaxSteps: total, GradClip: o.GradClip,
		CheckpointEvery: o.Checkpoint * U, KeepLast: o.KeepLast,
		Data: ppo, Metrics: env.Metrics, Progress: env.Progress(total, "ppo"), Logf: env.Logf,
		// `pipeline status` counts iterations, as max_steps does: the whole ones done (a checkpoint that
		// Ctrl-C writes inside an iteration shows the iterations before it).
		Checkpointed: func(step, _ int) error { return env.MarkProgressIn("iteration", step/U, o.MaxSteps) },
	}
	loop.Step = func(ctx context.Context, step int) (train.Result, error) {
		if testHookPPOStep != nil {
			testHookPPOStep(step)
		}
		return ppo.step(ctx, step, ps.grads)
	}
	if err := loop.Run(ctx); err != nil {
		return err
	}

	// 6. The result: the policy as a Hugging Face checkpoint with its tokenizer, the value model beside
	// it, the curves of reward and KL.
	if err := graphs.Save(env.Dir, cfg, policy); err != nil {
		return err
	}
	if err := writeTokenizer(initDir, env.Dir, cfg.NPositions); err != nil {
		return err
	}
	if err := os.MkdirAll(env.Path(valueDir), 0o755); err != nil {
		return err
	}
	if err := graphs.SaveReward(env.Path(valueDir), rmCfg, value, eot); err != nil {
		return err
	}
	if err := plots.Curves(env.Path("metrics.jsonl"), env.Path("ppo.png"), "ppo: "+env.Config.Run, "per response",
		"objective/scores", "objective/rlhf_reward", "objective/kl"); err != nil {
		return err
	}

	// 7. The self-check: greedy exact match on the held-out prompts after PPO, and the curves' ends.
	after, err := exactMatch(ctx, cfg, policy, tok, evalPrompts, o.MaxNewTokens, eot)
	if err != nil {
		return err
	}
	first, last, err := firstLastIterations(env.Path("metrics.jsonl"))
	if err != nil {
		return err
	}
	env.SetSummary("exact_match_before", before)
	env.SetSummary("exact_match_after", after)
	env.SetSummary("eval_prompts", len(evalPrompts))
	env.SetSummary("first_iteration", first)
	env.SetSummary("last_iteration", last)
	env.Logf("mean score %.4f -> %.4f, KL %.4f -> %.4f (first -> last iteration); held-out greedy exact match on %d prompts %.3f -> %.3f",
		first["objective/scores"], last["objective/scores"], first["objective/kl"], last["objective/kl"], len(evalPrompts), before, after)
	return nil
}

// valueDir is where the trained value model is saved, in the reward model's layout.
const valueDir = "value_model"

// testHookPPOStep, when set by a test, is called before every optimizer update (to interrupt a run at
// a chosen step).
var testHookPPOStep func(step int)

// promptFiles resolves the prompt files: the tasks stage's prompts.jsonl (with task_names, each named
// task's <task>/prompts.jsonl), or the globs of prompt_files.
func (o *ppoOptions) promptFiles(env *pipeline.Env) ([]string, error) {
	return taskFiles(env, o.Prompts, o.TaskNames, "prompts.jsonl", o.PromptFiles)
}

func init() { pipeline.Register(ppoKind{}) }
