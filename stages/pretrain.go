package stages

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"regexp"

	"pipeline/dataset"
	"pipeline/graphs"
	"pipeline/objective"
	"pipeline/optim"
	"pipeline/pipeline"
	"pipeline/plots"
	"pipeline/tokenizer"
	"pipeline/train"
)

// pretrain trains the GPT from scratch on corpus text: tokenize once into shards, then minimise the
// objective's weighted cross-entropy with AdamW over random windows, checkpointing as it goes.
type pretrainKind struct{}

type pretrainOptions struct {
	Tokenizer         string   `yaml:"tokenizer" ref:"bpe" required:"true" doc:"the bpe stage whose tokenizer encodes the corpus"`
	Corpus            []string `yaml:"corpus" file:"true" required:"true" doc:"corpus files (globs), relative to the config file"`
	DocSeparator      string   `yaml:"doc_separator" doc:"regular expression; a line matching it ends a document (and is dropped)"`
	ValFraction       float64  `yaml:"val_fraction" doc:"fraction of documents held out for validation"`
	Objective         string   `yaml:"objective" doc:"causal (next-token prediction)"`
	SeqLen            int      `yaml:"seq_len" doc:"tokens per training row; 0 means model.n_positions"`
	optimOptions      `yaml:",inline"`
	evalCadence       `yaml:",inline"`
	EvalBatches       int `yaml:"eval_batches" doc:"batches of held-out windows per validation"`
	checkpointOptions `yaml:",inline"`
	SampleTokens      int `yaml:"sample_tokens" doc:"tokens to sample from the final model as a self-check"`
}

func (pretrainKind) Name() string { return "pretrain" }
func (pretrainKind) Doc() string {
	return "train the GPT from scratch on corpus text by next-token prediction: min -sum_t log p(x_t+1 | x_<=t)"
}

func (pretrainKind) Defaults() any {
	return &pretrainOptions{DocSeparator: `^\s*%?\s*$`, ValFraction: 0.05, Objective: "causal",
		optimOptions: defaultOptim(3e-3, 1000), evalCadence: evalCadence{EvalEvery: 100}, EvalBatches: 8,
		checkpointOptions: checkpointEvery(100), SampleTokens: 64}
}

func (pretrainKind) Validate(opts any, run *pipeline.Config, report func(key, msg string)) {
	o := opts.(*pretrainOptions)
	corpusHoldsText(run, report, "corpus", o.Corpus)
	if _, err := regexp.Compile(o.DocSeparator); err != nil {
		report("doc_separator", err.Error())
	}
	if !(o.ValFraction > 0 && o.ValFraction < 1) {
		report("val_fraction", fmt.Sprintf("must be in (0, 1), got %g", o.ValFraction))
	}
	if _, err := objective.New(o.Objective); err != nil {
		report("objective", err.Error())
	}
	seqLenWithin(report, o.SeqLen, run.Model.NPositions)
	o.optimOptions.validate(report)
	o.evalCadence.validate(report)
	positive(report, "eval_batches", o.EvalBatches)
	o.checkpointOptions.validate(report)
	if o.SampleTokens < 0 {
		report("sample_tokens", "must not be negative")
	}
}

func (pretrainKind) Run(ctx context.Context, env *pipeline.Env, opts any) error {
	o := opts.(*pretrainOptions)
	obj, _ := objective.New(o.Objective)

	// 1. The tokenizer, and the corpus as token shards (made once per tokenizer and corpus).
	tokDir, err := env.Input(o.Tokenizer)
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(tokDir)
	if err != nil {
		return err
	}
	files, err := env.Stage.Files(env.Config)
	if err != nil {
		return err
	}
	shards, err := dataset.Prepare(ctx, dataset.PrepareOptions{
		Files: files, Separator: regexp.MustCompile(o.DocSeparator), ValFraction: o.ValFraction,
		Seed: env.Config.Seed, TokenizerDir: tokDir, CacheDir: filepath.Join(env.Config.RunDir(), "shards"),
		Progress: env.Progress, Logf: env.Logf}, tok)
	if err != nil {
		return err
	}
	env.Logf("corpus: %d train tokens, %d validation tokens (%.2f bytes/token); unigram entropy %.3f nats/token",
		len(shards.Train), len(shards.Val), shards.Meta.BytesPerToken(), shards.Meta.UnigramEntropy)

	// 2. The model, fresh from the seed.
	m := env.Config.Model
	cfg := graphs.NewConfig(tok.VocabSize(), m.NPositions, m.NEmbd, m.NLayer, m.NHead)
	cfg.LayerNormEpsilon, cfg.TieWordEmbeddings = m.LayerNormEpsilon, m.TieWordEmbeddings
	if eot, ok := tok.SpecialID(tokenizer.EndOfText); ok {
		cfg.BOSTokenID, cfg.EOSTokenID = &eot, &eot // every later stage's config.json copies them
	}
	params := graphs.NewParams(cfg)
	params.Init(uint64(env.Config.Seed), m.InitStd)
	T := o.SeqLen
	if T == 0 {
		T = m.NPositions
	}
	B := o.BatchSize
	net, err := graphs.NewModel(cfg, params, B, T, true)
	if err != nil {
		return err
	}
	defer net.Close()
	evalNet, err := graphs.NewModel(cfg, params, B, T, false)
	if err != nil {
		return err
	}
	defer evalNet.Close()
	env.Logf("model: %d parameters (%d layers, %d heads, d=%d, vocab %d, context %d); batch %d x %d x %d accumulation",
		len(params.Data), m.NLayer, m.NHead, m.NEmbd, cfg.VocabSize, m.NPositions, B, T, o.GradAccum)

	// 3. The loop: each step draws GradAccum micro-batches of B windows.
	windows, err := dataset.NewWindows(shards.Train, obj.Window(T), uint64(env.Config.Seed))
	if err != nil {
		return err
	}
	specs := paramSpecs(params)
	opt, err := optim.NewAdamW(specs, o.adamW())
	if err != nil {
		return err
	}
	micro := make([]batchRows, o.GradAccum)
	for i := range micro {
		micro[i] = newBatchRows(B, T)
	}
	accum := make([]float32, len(params.Grad))
	loop := &train.Loop{
		Dir: env.Dir, Specs: specs, Params: params.Data, Grads: accum, Opt: opt,
		Schedule: o.schedule(), MaxSteps: o.MaxSteps, GradClip: o.GradClip,
		EvalEvery: o.EvalEvery, CheckpointEvery: o.Checkpoint, KeepLast: o.KeepLast,
		Data: windows, Metrics: env.Metrics, Progress: env.Progress(o.MaxSteps, "pretrain"), Logf: env.Logf,
		Checkpointed: env.MarkProgress,
	}
	loop.Step = func(ctx context.Context, step int) (train.Result, error) {
		if testHookStep != nil {
			testHookStep(env.Stage.Name, step)
		}
		// Draw every micro-batch first: the loss is normalised by the target tokens of the whole step.
		total := 0.0
		for i := range micro {
			for r := 0; r < B; r++ {
				micro[i].collate(obj, windows.Next(), r, T)
			}
			total += micro[i].targetCount()
		}
		return accumulate(modelStepper{net}, micro, total, accum)
	}
	evalBatches := heldOutBatches(obj, shards.Val, B, T, o.EvalBatches)
	if len(evalBatches) == 0 {
		return fmt.Errorf("the validation split has %d tokens, fewer than one batch of %d x %d; raise val_fraction or lower batch_size",
			len(shards.Val), B, obj.Window(T))
	}
	tokenBytes := tokenByteLengths(tok)
	loop.Eval = func(ctx context.Context) (map[string]float64, error) {
		return validate(evalNet, evalBatches, tokenBytes)
	}
	if err := loop.Run(ctx); err != nil {
		return err
	}

	// 4. The result: a Hugging Face checkpoint with its tokenizer, the loss curve and a sample.
	if err := graphs.Save(env.Dir, cfg, params); err != nil {
		return err
	}
	if err := writeTokenizer(tokDir, env.Dir, cfg.NPositions); err != nil {
		return err
	}
	if err := plots.Curves(env.Path("metrics.jsonl"), env.Path("loss.png"), "pretrain: "+env.Config.Run,
		"cross-entropy (nats/token)", "loss", "val_loss"); err != nil {
		return err
	}
	val, err := validate(evalNet, evalBatches, tokenBytes)
	if err != nil {
		return err
	}
	env.SetSummary("val_loss", val["val_loss"])
	env.SetSummary("val_bpb", val["val_bpb"])
	env.SetSummary("unigram_entropy", shards.Meta.UnigramEntropy)
	env.SetSummary("params", len(params.Data))
	env.Logf("final validation loss %.4f nats/token (%.4f bits/byte) vs unigram entropy %.4f",
		val["val_loss"], val["val_bpb"], shards.Meta.UnigramEntropy)
	if o.SampleTokens > 0 {
		text, err := sampleGreedy(ctx, cfg, params, tok, "<|endoftext|>", o.SampleTokens)
		if err != nil {
			return err
		}
		env.Logf("sample: %q", text)
		env.SetSummary("sample", text)
	}
	return nil
}

// validate is the mean cross-entropy over fixed held-out batches, in nats per token and in bits per
// byte of the text those tokens stand for: bpb = sum_t CE_t / (ln 2 * sum_t bytes(target_t)).
func validate(net *graphs.Model, batches []batchRows, tokenBytes []int) (map[string]float64, error) {
	var nats, tokens, bytes float64
	for _, b := range batches {
		n := b.targetCount()
		loss, err := net.Eval(b.ids, b.targets, b.weights, float32(n))
		if err != nil {
			return nil, err
		}
		nats += float64(loss) * n
		tokens += n
		for i, y := range b.targets {
			if b.weights[i] != 0 {
				bytes += float64(tokenBytes[y])
			}
		}
	}
	return map[string]float64{"val_loss": nats / tokens, "val_bpb": nats / (math.Ln2 * bytes)}, nil
}

// testHookStep, when set by a test, is called before every training step (to interrupt a run at a
// chosen step).
var testHookStep func(stage string, step int)

func init() { pipeline.Register(pretrainKind{}) }
