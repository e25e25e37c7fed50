package stages

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"pipeline/graphs"
	"pipeline/optim"
	"pipeline/pipeline"
	"pipeline/plots"
	"pipeline/sample"
	"pipeline/tasks"
	"pipeline/textdata"
	"pipeline/tokenizer"
	"pipeline/train"
)

// sft fine-tunes a checkpoint on prompt/completion or chat data (JSONL in TRL's field names). Each example
// is rendered (plain prompt + completion + <|endoftext|>, or the chat template) and only the completion's
// or the assistant's tokens and their <|endoftext|> are targets:
//
//	L = -(1/N) sum_{t : w_t = 1} log p(y_t | y_<t),   N = sum_t w_t over every row of the step
//
// where w_t = 1 exactly when y_t belongs to a completion or an assistant message or is the <|endoftext|>
// closing it (textdata.Tokenize). Padding has the id of <|endoftext|> but weight 0, so the real
// end-of-text is still trained; a step with N = 0 is skipped, never divided by.
type sftKind struct{}

type sftOptions struct {
	Init              string           `yaml:"init" ref:"pretrain|sft" required:"true" doc:"the stage whose checkpoint is fine-tuned; the architecture and the tokenizer come from it, not from the model block"`
	Data              string           `yaml:"data" ref:"tasks" doc:"a tasks stage whose sft.jsonl is the training data (give data or data_files)"`
	DataFiles         []string         `yaml:"data_files" file:"true" doc:"training JSONL in TRL's fields, {\"prompt\",\"completion\"} or {\"messages\"} (globs, relative to the config file)"`
	EvalData          string           `yaml:"eval_data" ref:"tasks" doc:"a tasks stage whose eval items, as prompt/completion, are the held-out data (give at most one of eval_data and eval_data_files)"`
	EvalDataFiles     []string         `yaml:"eval_data_files" file:"true" doc:"held-out JSONL in the fields of data_files"`
	TaskNames         []string         `yaml:"task_names" doc:"which of the tasks stage's tasks (arithmetic, verse_choice, verse_continue) to train on and hold out: data reads their own <task>/sft.jsonl and eval_data their eval items, in this order; empty means every task it wrote (its mixed sft.jsonl)"`
	Method            string           `yaml:"method" doc:"which parameters train: full (every weight of the checkpoint), or an adapter beside the frozen checkpoint: lora, prefix or prompt (their options below); an adapter is saved in PEFT's files"`
	LoRA              sftLoRAOptions   `yaml:"lora" doc:"method lora: W + (alpha/r) A B on the target modules of every block, B = 0 at the start"`
	Prefix            sftPrefixOptions `yaml:"prefix" doc:"method prefix: learned keys and values that every query of every layer attends"`
	Prompt            sftPromptOptions `yaml:"prompt" doc:"method prompt: learned input embeddings before every sequence"`
	Pack              bool             `yaml:"pack" doc:"put several examples one after another in a row (a target never crosses into the next example); otherwise one example per row, padded"`
	SeqLen            int              `yaml:"seq_len" doc:"real tokens per row, longer examples losing their end; 0 means the checkpoint's n_positions less prefix or prompt tuning's num_virtual_tokens"`
	optimOptions      `yaml:",inline"`
	evalCadence       `yaml:",inline"`
	EvalBatches       int `yaml:"eval_batches" doc:"held-out batches per validation, from a seeded shuffle of the held-out examples; 0 means all of them"`
	checkpointOptions `yaml:",inline"`
	CheckPrompts      int `yaml:"check_prompts" doc:"held-out prompts (training ones when there are none) that the initial and the fine-tuned model answer greedily as a self-check"`
}

// sftLoRAOptions: PEFT's LoraConfig defaults for r and alpha (a scale alpha/r of 2), every linear layer
// of the block adapted (QLoRA's finding: all of them beat attention only at the same budget).
type sftLoRAOptions struct {
	R             int      `yaml:"r" doc:"rank of the update A B"`
	Alpha         float64  `yaml:"alpha" doc:"the update is scaled by alpha/r"`
	Dropout       float64  `yaml:"dropout" doc:"dropout on the LoRA branch's input; only 0, since the graph has no dropout"`
	TargetModules []string `yaml:"target_modules" doc:"the linear layers adapted in every block: attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj"`
	Merge         bool     `yaml:"merge" doc:"also write the merged weights W + (alpha/r) A B as a full checkpoint (config.json, model.safetensors), which downstream stages then load as one"`
}

type sftPrefixOptions struct {
	NumVirtualTokens int `yaml:"num_virtual_tokens" doc:"prefix positions per layer; rows then hold at most n_positions - num_virtual_tokens real tokens"`
}

type sftPromptOptions struct {
	NumVirtualTokens int    `yaml:"num_virtual_tokens" doc:"learned embeddings before every sequence; rows then hold at most n_positions - num_virtual_tokens real tokens"`
	InitText         string `yaml:"init_text" doc:"start the prompt as this text's token embeddings, repeated or cut to num_virtual_tokens (PEFT's TEXT init); empty: random N(0, 1) (RANDOM)"`
}

// loraModules are the values of lora.target_modules: GPT-2's four linear layers, in PEFT's suffix form.
var loraModules = []string{"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"}

func (sftKind) Name() string { return "sft" }
func (sftKind) Doc() string {
	return "supervised fine-tuning on prompt/completion or chat JSONL: min -sum_t w_t log p(y_t | y_<t), w_t = 1 on completion tokens and <|endoftext|>"
}

// IgnoresModel: the model comes from the init checkpoint, whose own fingerprint covers the model block.
func (sftKind) IgnoresModel() {}

// Defaults: a peak rate a tenth of pretraining's and no weight decay, so fine-tuning moves the pretrained
// weights only as far as the data asks; the rate decays to zero, as nanochat's SFT schedule does.
func (sftKind) Defaults() any {
	o := defaultOptim(3e-4, 500)
	o.WeightDecay, o.MinLRRatio = 0, 0
	return &sftOptions{Method: "full", optimOptions: o, evalCadence: evalCadence{EvalEvery: 100}, EvalBatches: 8,
		checkpointOptions: checkpointEvery(100), CheckPrompts: 8,
		LoRA:   sftLoRAOptions{R: 8, Alpha: 16, TargetModules: slices.Clone(loraModules)},
		Prefix: sftPrefixOptions{NumVirtualTokens: 16}, Prompt: sftPromptOptions{NumVirtualTokens: 16}}
}

// sftMethods are the fine-tuning methods by name; each prepares the loaded checkpoint for training.
var sftMethods = map[string]func(o *sftOptions, in tuningInput) (*tuning, error){
	"full":   fullTuning,
	"lora":   loraTuning,
	"prefix": prefixTuning,
	"prompt": promptTuning,
}

// virtualTokens is the number of positions the method puts before every row (prefix and prompt).
func (o *sftOptions) virtualTokens() int {
	switch o.Method {
	case "prefix":
		return o.Prefix.NumVirtualTokens
	case "prompt":
		return o.Prompt.NumVirtualTokens
	}
	return 0
}

func (sftKind) Validate(opts any, run *pipeline.Config, report func(key, msg string)) {
	o := opts.(*sftOptions)
	if (o.Data == "") == (len(o.DataFiles) == 0) {
		report("data", "give exactly one of data (a tasks stage) and data_files")
	}
	if o.EvalData != "" && len(o.EvalDataFiles) > 0 {
		report("eval_data", "give at most one of eval_data (a tasks stage) and eval_data_files")
	}
	validateTaskNames(run, report, o.TaskNames, taskRef{"data", o.Data}, taskRef{"eval_data", o.EvalData})
	checkDataFiles(run, report, "data_files", o.DataFiles, textdata.ReadSFT)
	checkDataFiles(run, report, "eval_data_files", o.EvalDataFiles, textdata.ReadSFT)
	if _, ok := sftMethods[o.Method]; !ok {
		report("method", fmt.Sprintf("%q is not a method; the methods are %s", o.Method,
			strings.Join(slices.Sorted(maps.Keys(sftMethods)), ", ")))
	}
	// The init checkpoint was trained with the model block's context (pretrain, or an sft of one). Only
	// the chosen method's options are checked.
	n, P := run.Model.NPositions, o.virtualTokens()
	switch o.Method {
	case "lora":
		o.LoRA.validate(report)
	case "prefix", "prompt":
		if P < 1 || P >= n {
			report(o.Method+".num_virtual_tokens", fmt.Sprintf("must be in [1, model.n_positions = %d), got %d", n, P))
			P = 0
		}
	}
	switch {
	case P == 0 && (o.SeqLen < 0 || o.SeqLen > n):
		report("seq_len", fmt.Sprintf("must be in [0, model.n_positions = %d], got %d", n, o.SeqLen))
	case P > 0 && (o.SeqLen < 0 || o.SeqLen > n-P):
		report("seq_len", fmt.Sprintf("must be in [0, model.n_positions - %s.num_virtual_tokens = %d], got %d", o.Method, n-P, o.SeqLen))
	}
	o.optimOptions.validate(report)
	o.evalCadence.validate(report)
	o.checkpointOptions.validate(report)
	if o.EvalBatches < 0 {
		report("eval_batches", "must not be negative")
	}
	if o.CheckPrompts < 0 {
		report("check_prompts", "must not be negative")
	}
}

func (o *sftLoRAOptions) validate(report func(key, msg string)) {
	positive(report, "lora.r", o.R)
	if !(o.Alpha > 0) {
		report("lora.alpha", fmt.Sprintf("must be > 0, got %g", o.Alpha))
	}
	if o.Dropout != 0 {
		report("lora.dropout", fmt.Sprintf("only 0 is supported (the graph has no dropout), got %g", o.Dropout))
	}
	if len(o.TargetModules) == 0 {
		report("lora.target_modules", "name at least one of "+strings.Join(loraModules, ", "))
	}
	for _, m := range o.TargetModules {
		if !slices.Contains(loraModules, m) {
			report("lora.target_modules", fmt.Sprintf("%q is not one of %s", m, strings.Join(loraModules, ", ")))
		}
	}
	noRepeats(report, "lora.target_modules", o.TargetModules)
}

func (sftKind) Run(ctx context.Context, env *pipeline.Env, opts any) error {
	o := opts.(*sftOptions)

	// 1. The checkpoint to fine-tune and the tokenizer beside it.
	initDir, err := env.Input(o.Init)
	if err != nil {
		return err
	}
	start, err := loadPolicy(initDir)
	if err != nil {
		return err
	}
	if start.adapter != nil {
		return fmt.Errorf("init %s is a %s adapter; sft fine-tunes a full checkpoint (a lora sft with merge: true writes one)",
			initDir, start.method())
	}
	cfg, base := start.cfg, start.base
	tok, err := tokenizer.Load(initDir)
	if err != nil {
		return err
	}
	if tok.VocabSize() > cfg.VocabSize {
		return fmt.Errorf("%s: the tokenizer has %d ids, the model only %d", initDir, tok.VocabSize(), cfg.VocabSize)
	}
	eot, ok := tok.SpecialID(tokenizer.EndOfText)
	if !ok {
		return fmt.Errorf("%s: the tokenizer has no %s, which ends every example and pads the rows", initDir, tokenizer.EndOfText)
	}
	P := o.virtualTokens()
	T := o.SeqLen
	if T == 0 {
		T = cfg.NPositions - P
	}
	if P+T > cfg.NPositions {
		return fmt.Errorf("seq_len %d after %d virtual tokens exceeds the checkpoint's n_positions %d", T, P, cfg.NPositions)
	}
	B := o.BatchSize
	env.Logf("init: %s (%d layers, %d heads, d=%d, vocab %d, context %d)", initDir, cfg.NLayer, cfg.NHead, cfg.NEmbd,
		cfg.VocabSize, cfg.NPositions)

	// 2. The data: training batches in a seeded order that checkpoints keep, and fixed held-out batches.
	trainPaths, err := o.trainFiles(env)
	if err != nil {
		return err
	}
	seqs, err := loadSFTFiles(env, trainPaths, tok, T)
	if err != nil {
		return err
	}
	evalPaths, err := o.heldOutFiles(env)
	if err != nil {
		return err
	}
	heldOut, err := loadSFTFiles(env, evalPaths, tok, T)
	if err != nil {
		return err
	}
	seed := uint64(env.Config.Seed)
	if heldOut, err = shuffleSeqs(heldOut, seed); err != nil {
		return err
	}
	batches, err := textdata.NewBatcher(seqs, textdata.BatchOptions{B: B, T: T, Pad: eot, Pack: o.Pack, Seed: seed})
	if err != nil {
		return err
	}
	evalSeqs := heldOut
	if o.EvalBatches > 0 {
		evalSeqs = heldOut[:min(len(heldOut), o.EvalBatches*B)]
	}
	evalRows, err := sftPaddedRows(evalSeqs, B, T, eot) // padded even when training packs: one example a row
	if err != nil {
		return err
	}
	if len(evalRows) > 0 {
		env.Logf("held-out: %d examples in %d batches per validation", len(evalSeqs), len(evalRows))
	}
	tokenBytes := tokenByteLengths(tok)

	// 3. The method decides what trains.
	tuned, err := sftMethods[o.Method](o, tuningInput{cfg: cfg, base: base, tok: tok, B: B, T: T, seed: seed})
	if err != nil {
		return err
	}
	defer tuned.close()
	all := len(base.Data)
	if tuned.adapter != nil {
		_, all = tuned.adapter.Counts(cfg)
	}
	fraction := float64(len(tuned.params)) / float64(all)
	env.Logf("method %s: %d of %d parameters trainable (%.2f%%)", o.Method, len(tuned.params), all, 100*fraction)
	env.Logf("training: %d steps of %d x %d x %d accumulation (pack %v), lr %g (warmup %d, cosine to %g), weight decay %g, clip %g",
		o.MaxSteps, B, T, o.GradAccum, o.Pack, o.LR, o.WarmupSteps, o.LR*o.MinLRRatio, o.WeightDecay, o.GradClip)
	env.SetSummary("trainable_params", len(tuned.params))
	env.SetSummary("trainable_fraction", fraction)

	// 4. The loop: each step deals GradAccum batches; the loss is normalised by their total target count.
	opt, err := optim.NewAdamW(tuned.specs, o.adamW())
	if err != nil {
		return err
	}
	micro := make([]batchRows, o.GradAccum)
	accum := make([]float32, len(tuned.params))
	loop := &train.Loop{
		Dir: env.Dir, Specs: tuned.specs, Params: tuned.params, Grads: accum, Opt: opt,
		Schedule: o.schedule(), MaxSteps: o.MaxSteps, GradClip: o.GradClip,
		EvalEvery: o.EvalEvery, CheckpointEvery: o.Checkpoint, KeepLast: o.KeepLast,
		Data: batches, Metrics: env.Metrics, Progress: env.Progress(o.MaxSteps, "sft"), Logf: env.Logf, Checkpointed: env.MarkProgress,
	}
	loop.Step = func(ctx context.Context, step int) (train.Result, error) {
		if testHookSFTStep != nil {
			testHookSFTStep(step)
		}
		total := 0.0
		for i := range micro {
			b := batches.Next()
			micro[i] = batchRows{ids: b.IDs, targets: b.Targets, weights: b.Weights}
			total += micro[i].targetCount()
		}
		res, err := accumulate(tuned.train, micro, total, accum)
		res.Metrics = map[string]float64{"epoch": float64(batches.Epoch()), "targets": total}
		return res, err
	}
	if len(evalRows) > 0 {
		loop.Eval = func(ctx context.Context) (map[string]float64, error) {
			return validate(tuned.eval, evalRows, tokenBytes)
		}
	}
	if err := loop.Run(ctx); err != nil {
		return err
	}

	// 5. The result: a Hugging Face checkpoint or a PEFT adapter over init's, its tokenizer with the chat
	// template, and the loss curve.
	tunedPolicy := &policy{cfg: cfg, base: base, adapter: tuned.adapter, baseDir: initDir}
	if err := o.save(env, tunedPolicy); err != nil {
		return err
	}
	if err := writeTokenizer(initDir, env.Dir, cfg.NPositions); err != nil {
		return err
	}
	if err := plots.Curves(env.Path("metrics.jsonl"), env.Path("loss.png"), "sft: "+env.Config.Run,
		"cross-entropy on completion tokens (nats/token)", "loss", "val_loss"); err != nil {
		return err
	}

	// 6. Self-check against the initial model: the held-out loss, and greedy answers to a few prompts.
	_, initParams, err := graphs.Load(initDir)
	if err != nil {
		return err
	}
	if len(evalRows) > 0 {
		if err := compareHeldOutLoss(env, cfg, initParams, tuned.eval, evalRows, tokenBytes); err != nil {
			return err
		}
	}
	checks, where := heldOut, "held-out"
	if len(checks) == 0 {
		checks, where = seqs, "training"
	}
	return compareAnswers(ctx, env, &policy{cfg: cfg, base: initParams, baseDir: initDir}, tunedPolicy, tok,
		answerCases(checks, o.CheckPrompts, eot, tok), where)
}

// save writes the fine-tuned policy into the stage directory: full fine-tuning's weights as a checkpoint;
// an adapter as PEFT's adapter_config.json (base_model_name_or_path: init's directory relative to this
// one) and adapter_model.safetensors, with lora.merge also the merged weights as a checkpoint.
func (o *sftOptions) save(env *pipeline.Env, p *policy) error {
	if p.adapter == nil {
		return graphs.Save(env.Dir, p.cfg, p.base)
	}
	p.adapter.Config.BaseModelNameOrPath = baseReference(env.Dir, p.baseDir)
	if err := graphs.SaveAdapter(env.Dir, p.cfg, p.adapter); err != nil {
		return err
	}
	if o.Method != "lora" || !o.LoRA.Merge {
		return nil
	}
	merged, err := graphs.MergeLoRA(p.cfg, p.base, p.adapter)
	if err != nil {
		return err
	}
	env.Logf("lora merged into the weights: %s is also a full checkpoint", env.Dir)
	return graphs.Save(env.Dir, p.cfg, merged)
}

// compareHeldOutLoss logs and records the held-out loss of the initial and the fine-tuned model.
func compareHeldOutLoss(env *pipeline.Env, cfg *graphs.Config, initParams *graphs.Params, tuned *graphs.Model, rows []batchRows, tokenBytes []int) error {
	initNet, err := graphs.NewModel(cfg, initParams, tuned.B, tuned.T, false)
	if err != nil {
		return err
	}
	defer initNet.Close()
	before, err := validate(initNet, rows, tokenBytes)
	if err != nil {
		return err
	}
	after, err := validate(tuned, rows, tokenBytes)
	if err != nil {
		return err
	}
	env.SetSummary("init_val_loss", before["val_loss"])
	env.SetSummary("val_loss", after["val_loss"])
	env.SetSummary("val_bpb", after["val_bpb"])
	env.Logf("held-out loss on completions: %.4f nats/token before fine-tuning, %.4f after (%.4f bits/byte)",
		before["val_loss"], after["val_loss"], after["val_bpb"])
	return nil
}

// compareAnswers has the initial and the fine-tuned model answer the cases greedily, logs the fine-tuned
// answers and records both exact-match rates.
func compareAnswers(ctx context.Context, env *pipeline.Env, initial, tuned *policy,
	tok *tokenizer.Tokenizer, cases []answerCase, where string) error {
	if len(cases) == 0 {
		return nil
	}
	before, err := greedyAnswers(ctx, initial, tok, cases)
	if err != nil {
		return err
	}
	after, err := greedyAnswers(ctx, tuned, tok, cases)
	if err != nil {
		return err
	}
	right := func(got []string) int {
		n := 0
		for i, c := range cases {
			if got[i] == c.want {
				n++
			}
		}
		return n
	}
	for i, c := range cases {
		mark := "wrong"
		if after[i] == c.want {
			mark = "right"
		}
		env.Logf("%s: %q -> %q (want %q)", mark, c.prompt, after[i], c.want)
	}
	env.Logf("%s exact match: %d/%d before fine-tuning, %d/%d after", where, right(before), len(cases), right(after), len(cases))
	env.SetSummary("init_exact_match", float64(right(before))/float64(len(cases)))
	env.SetSummary("exact_match", float64(right(after))/float64(len(cases)))
	return nil
}

// tuningInput is what a method prepares: the loaded checkpoint and its tokenizer, the batch shape [B, T]
// of real tokens, and the run's seed, which draws an adapter's initial values.
type tuningInput struct {
	cfg  *graphs.Config
	base *graphs.Params
	tok  *tokenizer.Tokenizer
	B, T int
	seed uint64
}

// tuning is a checkpoint prepared for one fine-tuning method: the slab the optimiser updates and the
// models that run batches through it. Full fine-tuning trains the checkpoint's own weights; LoRA, prefix
// and prompt tuning train an adapter's store beside the frozen weights.
type tuning struct {
	specs   []optim.Spec    // the trainable tensors and their places in params
	params  []float32       // the trainable slab, updated in place by the optimiser
	train   stepper         // forward and backward; its gradient is laid out as params
	eval    *graphs.Model   // forward only, for the held-out loss
	adapter *graphs.Adapter // the trained adapter; nil for full fine-tuning
	close   func()          // releases the models
}

// fullTuning trains every weight of the checkpoint in place; it has no options of its own.
func fullTuning(_ *sftOptions, in tuningInput) (*tuning, error) {
	net, err := graphs.NewModel(in.cfg, in.base, in.B, in.T, true)
	if err != nil {
		return nil, err
	}
	eval, err := graphs.NewModel(in.cfg, in.base, in.B, in.T, false)
	if err != nil {
		net.Close()
		return nil, err
	}
	return &tuning{specs: paramSpecs(in.base), params: in.base.Data, train: modelStepper{net}, eval: eval,
		close: func() { net.Close(); eval.Close() }}, nil
}

// loraTuning trains a LoRA adapter (A drawn from the seed, B = 0: the model starts as the checkpoint).
func loraTuning(o *sftOptions, in tuningInput) (*tuning, error) {
	a, err := graphs.NewLoRA(in.cfg, graphs.LoRAOptions{R: o.LoRA.R, Alpha: o.LoRA.Alpha, Dropout: o.LoRA.Dropout,
		TargetModules: o.LoRA.TargetModules}, in.seed)
	if err != nil {
		return nil, err
	}
	return adapterTuning(in, a)
}

// prefixTuning trains prefix keys and values, drawn N(0, 1) from the seed.
func prefixTuning(o *sftOptions, in tuningInput) (*tuning, error) {
	a, err := graphs.NewPrefix(in.cfg, o.Prefix.NumVirtualTokens, in.seed)
	if err != nil {
		return nil, err
	}
	return adapterTuning(in, a)
}

// promptTuning trains a soft prompt, starting from init_text's token embeddings or N(0, 1) from the seed.
func promptTuning(o *sftOptions, in tuningInput) (*tuning, error) {
	var ids []int
	if o.Prompt.InitText != "" {
		ids = in.tok.Encode(o.Prompt.InitText)
	}
	a, err := graphs.NewPrompt(in.cfg, in.base, graphs.PromptOptions{NumVirtualTokens: o.Prompt.NumVirtualTokens,
		InitIDs: ids, InitText: o.Prompt.InitText}, in.seed)
	if err != nil {
		return nil, err
	}
	return adapterTuning(in, a)
}

// adapterTuning trains a's store over the frozen checkpoint.
func adapterTuning(in tuningInput, a *graphs.Adapter) (*tuning, error) {
	net, err := graphs.NewModelWith(in.cfg, in.base, in.B, in.T, graphs.ModelOptions{Train: true, Adapter: a})
	if err != nil {
		return nil, err
	}
	eval, err := graphs.NewModelWith(in.cfg, in.base, in.B, in.T, graphs.ModelOptions{Adapter: a})
	if err != nil {
		net.Close()
		return nil, err
	}
	return &tuning{specs: paramSpecs(a.Params), params: a.Params.Data, train: adapterStepper{net}, eval: eval,
		adapter: a, close: func() { net.Close(); eval.Close() }}, nil
}

// trainFiles is the training data: the tasks stage's sft.jsonl (with task_names, each named task's
// <task>/sft.jsonl), or the files of data_files.
func (o *sftOptions) trainFiles(env *pipeline.Env) ([]string, error) {
	return taskFiles(env, o.Data, o.TaskNames, "sft.jsonl", o.DataFiles)
}

// heldOutFiles is the held-out data: the tasks stage's eval items (with task_names, those of the named
// tasks only), written as eval.jsonl in the stage directory, or the files of eval_data_files; none when
// neither is given.
func (o *sftOptions) heldOutFiles(env *pipeline.Env) ([]string, error) {
	if o.EvalData == "" {
		return globFiles(env.Config, o.EvalDataFiles)
	}
	dir, err := env.Input(o.EvalData)
	if err != nil {
		return nil, err
	}
	path := env.Path("eval.jsonl")
	return []string{path}, writeTaskEvalRows(dir, o.TaskNames, path)
}

// writeTaskEvalRows writes the eval split of tasks under a tasks stage directory as SFT rows,
// {"prompt","completion"} in the direct style (tasks.Prompt, tasks.Completion), task by task: the named
// tasks in their order, each required; with no names, every task the stage generated.
func writeTaskEvalRows(tasksDir string, names []string, path string) error {
	type row struct {
		Prompt     string `json:"prompt"`
		Completion string `json:"completion"`
	}
	var rows []row
	named := len(names) > 0
	if !named {
		names = tasks.Names
	}
	for _, task := range names {
		items, err := readItems(filepath.Join(tasksDir, task, tasks.SplitEval+".jsonl"))
		if !named && errors.Is(err, os.ErrNotExist) {
			continue // a task the stage did not generate
		}
		if err != nil {
			return fmt.Errorf("eval_data: task %s: %w", task, err)
		}
		for _, it := range items {
			rows = append(rows, row{tasks.Prompt(it, tasks.Direct), tasks.Completion(it, tasks.Direct)})
		}
	}
	if len(rows) == 0 {
		return fmt.Errorf("%s: no task has an eval split", tasksDir)
	}
	return tasks.WriteJSONL(path, rows)
}

// loadSFTFiles loads SFT files into sequences of at most T+1 tokens, in file order, logging what each kept.
func loadSFTFiles(env *pipeline.Env, paths []string, tok *tokenizer.Tokenizer, T int) ([]textdata.Sequence, error) {
	var out []textdata.Sequence
	for _, p := range paths {
		seqs, st, err := textdata.LoadSFT(p, tok, T)
		if err != nil {
			return nil, err
		}
		env.Logf("%s: %s", p, st)
		out = append(out, seqs...)
	}
	return out, nil
}

// shuffleSeqs is seqs in the order of the first epoch of textdata.Epochs(len(seqs), seed).
func shuffleSeqs(seqs []textdata.Sequence, seed uint64) ([]textdata.Sequence, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	order, err := textdata.NewEpochs(len(seqs), seed)
	if err != nil {
		return nil, err
	}
	out := make([]textdata.Sequence, len(seqs))
	for i := range out {
		out[i] = seqs[order.Next()]
	}
	return out, nil
}

// sftPaddedRows lays the sequences out B at a time, one per row, padded with pad; the rows of the last
// batch that no sequence fills are all padding with weight 0.
func sftPaddedRows(seqs []textdata.Sequence, B, T, pad int) ([]batchRows, error) {
	var out []batchRows
	for start := 0; start < len(seqs); start += B {
		b, err := textdata.PadBatch(seqs[start:min(start+B, len(seqs))], T, pad)
		if err != nil {
			return nil, err
		}
		rows := newBatchRows(B, T)
		for i := range rows.ids {
			rows.ids[i], rows.targets[i] = pad, pad
		}
		copy(rows.ids, b.IDs)
		copy(rows.targets, b.Targets)
		copy(rows.weights, b.Weights)
		out = append(out, rows)
	}
	return out, nil
}

// answerCase is a prompt and the answer the data gives it: the tokens before the example's first
// trained token, and the text of its first trained span less the closing <|endoftext|>.
type answerCase struct {
	ids          []int
	prompt, want string
	maxNew       int // the answer's tokens and a few more: room to be wrong at length
}

// answerCases takes up to n examples with a prompt to answer.
func answerCases(seqs []textdata.Sequence, n, eot int, tok *tokenizer.Tokenizer) []answerCase {
	var out []answerCase
	for _, s := range seqs {
		if len(out) == n {
			break
		}
		start := slices.Index(s.Loss, true)
		if start < 1 {
			continue // no prompt to start from
		}
		end := start
		for end < len(s.Loss) && s.Loss[end] {
			end++
		}
		span := s.IDs[start:end]
		if span[len(span)-1] == eot {
			span = span[:len(span)-1]
		}
		out = append(out, answerCase{ids: s.IDs[:start], prompt: string(tok.Decode(s.IDs[:start])),
			want: string(tok.Decode(span)), maxNew: end - start + 8})
	}
	return out
}

// greedyAnswers greedily continues each case's prompt until <|endoftext|>, for at most its maxNew tokens.
func greedyAnswers(ctx context.Context, p *policy, tok *tokenizer.Tokenizer, cases []answerCase) ([]string, error) {
	dec, err := p.decoder()
	if err != nil {
		return nil, err
	}
	greedy, err := sample.New(0, sample.Options{})
	if err != nil {
		return nil, err
	}
	eot, _ := tok.SpecialID(tokenizer.EndOfText)
	out := make([]string, len(cases))
	for i, c := range cases {
		n := min(c.maxNew, p.context()-len(c.ids))
		gen, err := graphs.Generate(ctx, dec, c.ids, graphs.GenerateOptions{MaxNew: n, Sampler: greedy, StopIDs: []int{eot}, Decode: tok.Decode})
		if err != nil {
			return nil, err
		}
		out[i] = string(gen.Text)
	}
	return out, nil
}

// testHookSFTStep, when set by a test, is called before every sft training step.
var testHookSFTStep func(step int)

func init() { pipeline.Register(sftKind{}) }
