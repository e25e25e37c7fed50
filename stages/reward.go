package stages

import (
	"context"
	"fmt"

	"pipeline/graphs"
	"pipeline/losses"
	"pipeline/optim"
	"pipeline/pipeline"
	"pipeline/plots"
	"pipeline/textdata"
	"pipeline/tokenizer"
	"pipeline/train"
)

// reward trains a reward model r(x, y), a scalar score of how much a person would prefer the answer y
// to the prompt x, from pairs where y_w was preferred to y_l: a checkpoint's decoder with a scalar head
// (score.weight) read at the last real token of prompt + answer + <|endoftext|>, every weight trained
// on the Bradley-Terry loss with TRL's optional reward centering,
//
//	J(φ) = -E[log σ(r(x, y_w) - r(x, y_l))] + c · E[(r(x, y_w) + r(x, y_l))²]
//
// Per step and on the held-out pairs it logs accuracy (the share of pairs with r_w > r_l), the mean
// margin r_w - r_l and the mean, min and max reward. The output is a Hugging Face
// GPT2ForSequenceClassification checkpoint with its tokenizer, which the ppo stage and `pipeline score`
// read.
type rewardKind struct{}

type rewardOptions struct {
	Init              string `yaml:"init" ref:"pretrain|sft" required:"true" doc:"the checkpoint whose decoder the reward model starts from; the architecture and the tokenizer come from it"`
	prefData          `yaml:",inline"`
	Center            float64 `yaml:"center_rewards_coefficient" doc:"c: adds c · mean((r_w + r_l)²) to the loss, which keeps rewards near 0 (TRL's center_rewards_coefficient; 0 turns it off)"`
	SeqLen            int     `yaml:"seq_len" doc:"tokens per side (prompt + answer + <|endoftext|>; longer sides lose their end, and pairs then identical are dropped); 0 means the init model's n_positions"`
	optimOptions      `yaml:",inline"`
	evalCadence       `yaml:",inline"`
	checkpointOptions `yaml:",inline"`
}

// scoreInitStd is the standard deviation of the head's initial weights: transformers initialises
// GPT2ForSequenceClassification's score with N(0, initializer_range), 0.02 by default.
const scoreInitStd = 0.02

func (rewardKind) Name() string { return "reward" }
func (rewardKind) Doc() string {
	return "train a reward model on preference pairs: min -log σ(r(x,y_w) - r(x,y_l)) (+ c (r_w + r_l)²); batch_size counts pairs"
}

// IgnoresModel: the model comes from the init checkpoint, whose own fingerprint covers the model block.
func (rewardKind) IgnoresModel() {}

// Defaults: TRL's RewardConfig has no weight decay and no centering; the peak rate is a tenth of
// pretraining's, as the decoder already knows the text and the head starts near zero.
func (rewardKind) Defaults() any {
	opt := defaultOptim(3e-4, 200)
	opt.BatchSize, opt.WeightDecay = 8, 0
	return &rewardOptions{optimOptions: opt, evalCadence: evalCadence{EvalEvery: 50}, checkpointOptions: checkpointEvery(50)}
}

func (rewardKind) Validate(opts any, run *pipeline.Config, report func(key, msg string)) {
	o := opts.(*rewardOptions)
	o.prefData.validate(run, report)
	if !(o.Center >= 0) {
		report("center_rewards_coefficient", fmt.Sprintf("must not be negative, got %g", o.Center))
	}
	// The init checkpoint was trained with the model block's context (pretrain, or an sft of one).
	seqLenWithin(report, o.SeqLen, run.Model.NPositions)
	o.optimOptions.validate(report)
	o.evalCadence.validate(report)
	o.checkpointOptions.validate(report)
}

func (rewardKind) Run(ctx context.Context, env *pipeline.Env, opts any) error {
	o := opts.(*rewardOptions)

	// 1. The checkpoint to start from and the tokenizer beside it.
	initDir, err := env.Input(o.Init)
	if err != nil {
		return err
	}
	cfg, base, err := graphs.Load(initDir)
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(initDir)
	if err != nil {
		return err
	}
	if tok.VocabSize() > cfg.VocabSize {
		return fmt.Errorf("%s: the tokenizer has %d ids, the model only %d", initDir, tok.VocabSize(), cfg.VocabSize)
	}
	eot, ok := tok.SpecialID(tokenizer.EndOfText)
	if !ok {
		return fmt.Errorf("%s: the tokenizer has no %s, which ends every answer and pads the rows", initDir, tokenizer.EndOfText)
	}
	T := o.SeqLen
	if T == 0 {
		T = cfg.NPositions
	}
	if T > cfg.NPositions {
		return fmt.Errorf("seq_len %d exceeds the checkpoint's n_positions %d", T, cfg.NPositions)
	}
	B := o.BatchSize
	env.Logf("init: %s (%d layers, %d heads, d=%d, vocab %d, context %d); %d pairs x %d micro-batches per step, %d tokens per side, centering %g",
		initDir, cfg.NLayer, cfg.NHead, cfg.NEmbd, cfg.VocabSize, cfg.NPositions, B, o.GradAccum, T, o.Center)

	// 2. The preference pairs, each side cut to T tokens; pairs then identical are dropped and counted.
	trainFiles, evalFiles, err := o.pairFiles(env)
	if err != nil {
		return err
	}
	trainPairs, trainStats, err := loadPairFiles(env, trainFiles, tok, T)
	if err != nil {
		return err
	}
	evalPairs, evalStats, err := loadPairFiles(env, evalFiles, tok, T)
	if err != nil {
		return err
	}

	// 3. The reward model: the checkpoint's decoder and a head drawn from the seed, in one store, all of
	// it trained; a training graph and a forward-only one over it, each of 2B rows.
	params, err := graphs.RewardParamsFrom(cfg, base, uint64(env.Config.Seed), scoreInitStd)
	if err != nil {
		return err
	}
	net, err := graphs.NewRewardModel(cfg, params, 2*B, T, true, o.Center)
	if err != nil {
		return err
	}
	defer net.Close()
	evalNet, err := graphs.NewRewardModel(cfg, params, 2*B, T, false, 0)
	if err != nil {
		return err
	}
	defer evalNet.Close()
	heldOut := func() (map[string]float64, error) { return heldOutRewards(evalNet, evalPairs, eot, o.Center) }
	// Scored before the loop, which may restore a checkpoint over the store.
	before, err := heldOut()
	if err != nil {
		return err
	}
	env.Logf("model: %d parameters; held-out before training: accuracy %.3f, loss %.4f", len(params.Data),
		before["val_accuracy"], before["val_loss"])

	// 4. The loop: each step draws GradAccum micro-batches of B pairs, in seeded epochs.
	batcher, err := textdata.NewPairBatcher(trainPairs, textdata.BatchOptions{B: B, T: T, Pad: eot, Seed: uint64(env.Config.Seed)})
	if err != nil {
		return err
	}
	specs := paramSpecs(params)
	opt, err := optim.NewAdamW(specs, o.adamW())
	if err != nil {
		return err
	}
	accum := make([]float32, len(params.Grad))
	loop := &train.Loop{
		Dir: env.Dir, Specs: specs, Params: params.Data, Grads: accum, Opt: opt,
		Schedule: o.schedule(), MaxSteps: o.MaxSteps, GradClip: o.GradClip,
		EvalEvery: o.EvalEvery, CheckpointEvery: o.Checkpoint, KeepLast: o.KeepLast,
		Data: batcher, Metrics: env.Metrics, Progress: env.Progress(o.MaxSteps, "reward"), Logf: env.Logf, Checkpointed: env.MarkProgress,
	}
	loop.Step = func(ctx context.Context, step int) (train.Result, error) {
		if testHookRewardStep != nil {
			testHookRewardStep(step)
		}
		return rewardStep(net, batcher, o.GradAccum, o.Center, accum)
	}
	loop.Eval = func(ctx context.Context) (map[string]float64, error) { return heldOut() }
	if err := loop.Run(ctx); err != nil {
		return err
	}

	// 5. The result: a GPT2ForSequenceClassification checkpoint with its tokenizer (and the chat template
	// and pad token in tokenizer_config.json), and curves.
	if err := graphs.SaveReward(env.Dir, cfg, params, eot); err != nil {
		return err
	}
	if err := writeTokenizer(initDir, env.Dir, cfg.NPositions); err != nil {
		return err
	}
	title := "reward: " + env.Config.Run
	if err := plots.Curves(env.Path("metrics.jsonl"), env.Path("loss.png"), title, "Bradley-Terry loss", "loss", "val_loss"); err != nil {
		return err
	}
	if err := plots.Curves(env.Path("metrics.jsonl"), env.Path("accuracy.png"), title, "accuracy (r_w > r_l)", "accuracy", "val_accuracy"); err != nil {
		return err
	}

	// 6. The self-check: the saved checkpoint scores the held-out pairs as the model in memory does.
	after, err := heldOut()
	if err != nil {
		return err
	}
	if err := checkSavedReward(env.Dir, evalNet, evalPairs, eot, o.Center, after); err != nil {
		return err
	}
	env.SetSummary("before", before)
	env.SetSummary("after", after)
	env.SetSummary("train_pairs", len(trainPairs))
	env.SetSummary("eval_pairs", len(evalPairs))
	env.SetSummary("identical_pairs_dropped", trainStats.Identical+evalStats.Identical)
	env.SetSummary("params", len(params.Data))
	env.Logf("held-out, %d pairs, before -> after: accuracy %.3f -> %.3f, loss %.4f -> %.4f, margin %.4f -> %.4f; "+
		"rewards mean %.3f, min %.3f, max %.3f", len(evalPairs), before["val_accuracy"], after["val_accuracy"],
		before["val_loss"], after["val_loss"], before["val_margin"], after["val_margin"],
		after["val_mean_reward"], after["val_min_reward"], after["val_max_reward"])
	return nil
}

// rewardStep runs k micro-batches of pairs forward and backward and adds the mean of their gradients
// into grads: each micro-batch's loss is the mean over its pairs, so the step's loss, the mean over all
// its pairs, is their mean. The step's metrics are computed over all its rewards at once.
func rewardStep(net *graphs.RewardModel, batcher *textdata.PairBatcher, k int, center float64, grads []float32) (train.Result, error) {
	var chosen, rejected []float32
	inv := 1 / float32(k)
	tokens := 0
	for range k {
		b := batcher.Next()
		if _, err := net.Step(b.IDs, b.Last); err != nil {
			return train.Result{}, err
		}
		for j, g := range net.Params.Grad {
			grads[j] += g * inv
		}
		r := net.Rewards()
		n := len(r) / 2
		chosen, rejected = append(chosen, r[:n]...), append(rejected, r[n:]...)
		tokens += len(b.IDs)
	}
	m, err := losses.BradleyTerry(chosen, rejected, center, nil, nil)
	if err != nil {
		return train.Result{}, err
	}
	return train.Result{Loss: m.Loss, Tokens: tokens, Metrics: rewardMetrics(m, "")}, nil
}

// rewardMetrics names the numbers as TRL's RewardTrainer logs them (the loop logs the step's loss as
// "loss"; held-out numbers carry the prefix "val_", val_loss picking the best checkpoint).
func rewardMetrics(m losses.BTMetrics, prefix string) map[string]float64 {
	out := map[string]float64{prefix + "accuracy": m.Accuracy, prefix + "margin": m.Margin,
		prefix + "mean_reward": m.MeanReward, prefix + "min_reward": m.MinReward, prefix + "max_reward": m.MaxReward}
	if prefix != "" {
		out[prefix+"loss"] = m.Loss
	}
	return out
}

// heldOutRewards scores every held-out pair and returns the loss and metrics over all of them.
func heldOutRewards(net *graphs.RewardModel, pairs []textdata.Pair, pad int, center float64) (map[string]float64, error) {
	chosen, rejected, err := scoreRewardPairs(net, pairs, pad)
	if err != nil {
		return nil, err
	}
	m, err := losses.BradleyTerry(chosen, rejected, center, nil, nil)
	if err != nil {
		return nil, err
	}
	return rewardMetrics(m, "val_"), nil
}

// scoreRewardPairs runs net (2B rows) over pairs in order, B at a time, and returns the reward of each
// side. The last batch is filled up with repeats of the last pair, whose scores are dropped.
func scoreRewardPairs(net *graphs.RewardModel, pairs []textdata.Pair, pad int) (chosen, rejected []float32, err error) {
	B := net.R / 2
	chosen, rejected = make([]float32, len(pairs)), make([]float32, len(pairs))
	batch := make([]textdata.Pair, B)
	for lo := 0; lo < len(pairs); lo += B {
		for i := range batch {
			batch[i] = pairs[min(lo+i, len(pairs)-1)]
		}
		b, err := textdata.PairBatch(batch, net.T, pad)
		if err != nil {
			return nil, nil, err
		}
		r, err := net.Score(b.IDs, b.Last)
		if err != nil {
			return nil, nil, err
		}
		for i := 0; i < B && lo+i < len(pairs); i++ {
			chosen[lo+i], rejected[lo+i] = r[i], r[B+i]
		}
	}
	return chosen, rejected, nil
}

// checkSavedReward loads the reward checkpoint written to dir and scores the held-out pairs with it: the
// numbers must be the ones of the model in memory, want, bit for bit.
func checkSavedReward(dir string, like *graphs.RewardModel, pairs []textdata.Pair, pad int, center float64, want map[string]float64) error {
	cfg, params, err := graphs.LoadReward(dir)
	if err != nil {
		return fmt.Errorf("self-check: %w", err)
	}
	net, err := graphs.NewRewardModel(cfg, params, like.R, like.T, false, 0)
	if err != nil {
		return err
	}
	defer net.Close()
	got, err := heldOutRewards(net, pairs, pad, center)
	if err != nil {
		return err
	}
	for k, v := range want {
		if got[k] != v {
			return fmt.Errorf("self-check: the saved reward model gives %s %v, the trained one %v", k, got[k], v)
		}
	}
	return nil
}

// testHookRewardStep, when set by a test, is called before every reward-model step (to interrupt a run
// at a chosen step).
var testHookRewardStep func(step int)

func init() { pipeline.Register(rewardKind{}) }
