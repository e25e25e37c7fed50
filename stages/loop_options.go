package stages

// The training loop's cadence keys, inlined into the training stages' options like optimOptions. They
// carry fingerprint:"-" (see pipeline/fingerprint.go): they change how often a stage evaluates and
// saves and how many step checkpoints it keeps, never the weights it hands downstream.
//
// The fingerprint hashes the options as JSON, zeroed fields included, under their Go names and in field
// order: renaming or moving one of these fields would make every finished training stage stale. Hence the name
// Checkpoint, and two structs, so that pretrain's and sft's eval_batches stays between eval_every and
// checkpoint_every.

// evalCadence is the cadence of the held-out evaluation, in every training stage but ppo.
type evalCadence struct {
	EvalEvery int `yaml:"eval_every" fingerprint:"-" doc:"evaluate on the held-out data every N steps (and at the end)"`
}

// checkpointOptions are the step-checkpoint keys of every training stage.
type checkpointOptions struct {
	Checkpoint int `yaml:"checkpoint_every" fingerprint:"-" doc:"write a resumable checkpoint every N steps (ppo: every N iterations)"`
	KeepLast   int `yaml:"keep_last" fingerprint:"-" doc:"recent checkpoints kept, plus the one with the lowest held-out loss, if any"`
}

// checkpointEvery is the default: a checkpoint every n steps, the last two kept.
func checkpointEvery(n int) checkpointOptions { return checkpointOptions{Checkpoint: n, KeepLast: 2} }

func (o *evalCadence) validate(report func(key, msg string)) {
	positive(report, "eval_every", o.EvalEvery)
}

func (o *checkpointOptions) validate(report func(key, msg string)) {
	positive(report, "checkpoint_every", o.Checkpoint)
	positive(report, "keep_last", o.KeepLast)
}
