// Package train runs optimisation loops that can be killed at any moment and resumed to the same bits:
// every stage that trains (pretrain, sft, reward, dpo, ppo) gives it a step function and gets
// checkpoints, validation, metrics, a progress bar, NaN detection and Ctrl-C handling.
package train

import (
	"context"
	"encoding"
	"fmt"
	"math"
	"time"

	"github.com/schollz/progressbar/v3"

	"pipeline/optim"
	"pipeline/pipeline"
)

// Result is what one optimisation step reports.
type Result struct {
	Loss    float64            // the step's loss, already normalised as the step function defines it
	Tokens  int                // tokens processed (for tokens/s)
	Skipped bool               // the batch had nothing to learn from (no target tokens): no update
	Metrics map[string]float64 // extra per-step numbers for metrics.jsonl
}

// Loop optimises a flat slab of trainable parameters.
type Loop struct {
	Dir      string         // the stage's working directory; checkpoints go under Dir/steps/
	Specs    []optim.Spec   // the trainable tensors' names and places in the slabs
	Params   []float32      // the trainable slab, updated in place
	Grads    []float32      // its gradient slab, zeroed by the loop before each Step
	Opt      *optim.AdamW   // over Specs
	Schedule optim.Schedule // the learning rate at each step
	MaxSteps int
	GradClip float64 // global-norm clipping threshold; 0 turns clipping off

	EvalEvery       int // validate every N steps and at the end; 0: never
	CheckpointEvery int // checkpoint every N steps; the end, Ctrl-C and each new best always checkpoint
	KeepLast        int // keep this many recent checkpoints besides the best (at least 1)

	// Step computes the loss of step and accumulates its gradient into Grads. It must draw all its
	// randomness from Data, so that a resumed run repeats the same batches.
	Step func(ctx context.Context, step int) (Result, error)
	// Eval returns validation numbers; "val_loss", if present, picks the best checkpoint.
	Eval func(ctx context.Context) (map[string]float64, error)
	// Data is the batch source's state, saved in every checkpoint.
	Data interface {
		encoding.BinaryMarshaler
		encoding.BinaryUnmarshaler
	}

	Metrics  *pipeline.Metrics
	Progress *progressbar.ProgressBar
	Logf     func(format string, args ...any)
	// Checkpointed is told of every checkpoint written, and of the one resumed from when newer ones were
	// damaged (pipeline.Env.MarkProgress, for `pipeline status`).
	Checkpointed func(step, total int) error
}

// Run trains from the latest checkpoint in Dir that loads (or from the start) to MaxSteps. It returns
// ctx.Err() after writing a checkpoint when ctx is cancelled, and an error naming the step, without
// checkpointing, when the loss or the gradient stops being finite.
func (l *Loop) Run(ctx context.Context) error {
	if l.KeepLast < 1 {
		l.KeepLast = 1
	}
	st, err := l.resume()
	if err != nil {
		return err
	}
	lastSaved := st.Step
	save := func() error {
		data, err := l.Data.MarshalBinary()
		if err != nil {
			return err
		}
		st.Data = data
		if err := saveCheckpoint(l.Dir, l.Specs, l.Params, l.Opt, st); err != nil {
			return err
		}
		lastSaved = st.Step
		if err := prune(l.Dir, l.KeepLast, st.BestStep); err != nil {
			return err
		}
		if l.Checkpointed != nil {
			return l.Checkpointed(st.Step, l.MaxSteps)
		}
		return nil
	}
	if l.Progress != nil {
		l.Progress.Set(st.Step)
	}

	for st.Step < l.MaxSteps {
		if ctx.Err() != nil {
			if st.Step > lastSaved {
				if err := save(); err != nil {
					return err
				}
			}
			return ctx.Err()
		}
		clear(l.Grads)
		start := time.Now()
		res, err := l.Step(ctx, st.Step)
		if err != nil {
			return fmt.Errorf("step %d: %w", st.Step+1, err)
		}
		if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
			return fmt.Errorf("step %d: the loss is %v; stopping with the last good checkpoint (step %d) kept", st.Step+1, res.Loss, lastSaved)
		}
		lr := l.Schedule.LRAt(st.Step)
		norm := 0.0
		if !res.Skipped {
			if l.GradClip > 0 {
				norm = optim.ClipGlobalNorm(l.Grads, l.GradClip)
			} else {
				norm = optim.ClipGlobalNorm(l.Grads, math.Inf(1))
			}
			if math.IsNaN(norm) || math.IsInf(norm, 0) {
				return fmt.Errorf("step %d: the gradient norm is %v; stopping with the last good checkpoint (step %d) kept", st.Step+1, norm, lastSaved)
			}
			if err := l.Opt.Step(l.Params, l.Grads, lr); err != nil {
				return err
			}
		}
		st.Step++
		elapsed := time.Since(start).Seconds()
		rec := map[string]any{"step": st.Step, "loss": res.Loss, "lr": lr, "grad_norm": norm,
			"tokens_per_s": float64(res.Tokens) / elapsed}
		if res.Skipped {
			rec["skipped"] = true
		}
		for k, v := range res.Metrics {
			rec[k] = v
		}
		newBest := false
		if l.Eval != nil && l.EvalEvery > 0 && (st.Step%l.EvalEvery == 0 || st.Step == l.MaxSteps) {
			val, err := l.Eval(ctx)
			if err != nil {
				return fmt.Errorf("validation at step %d: %w", st.Step, err)
			}
			for k, v := range val {
				rec[k] = v
			}
			if v, ok := val["val_loss"]; ok && (st.BestVal == nil || v < *st.BestVal) {
				st.BestVal, st.BestStep, newBest = &v, st.Step, true
			}
			l.logf("step %d: loss %.4f, %s", st.Step, res.Loss, formatMetrics(val))
		}
		if err := l.Metrics.Log(rec); err != nil {
			return err
		}
		if l.Progress != nil {
			l.Progress.Describe(fmt.Sprintf("loss %.4f  %6.0f tok/s", res.Loss, float64(res.Tokens)/elapsed))
			l.Progress.Set(st.Step)
		}
		if newBest || st.Step == l.MaxSteps || (l.CheckpointEvery > 0 && st.Step%l.CheckpointEvery == 0) {
			if err := save(); err != nil {
				return err
			}
		}
	}
	if l.Progress != nil {
		l.Progress.Finish()
	}
	return nil
}

// resume restores Params, Opt and Data from the newest step checkpoint in Dir that loads and cuts
// metrics.jsonl back to its step, so that the run goes on as if never stopped; with no checkpoint it
// starts at step 0. A newer checkpoint that fails to load (outside damage: they are written atomically) is
// moved aside by setAside with one log line, and progress is recorded again at the step resumed from.
// When none loads nothing is moved, and the error lists every checkpoint tried and how to start over.
func (l *Loop) resume() (checkpointState, error) {
	saved, err := savedSteps(l.Dir)
	if err != nil {
		return checkpointState{}, err
	}
	var damaged []stepError
	for i := len(saved) - 1; i >= 0; i-- {
		st, err := l.restore(saved[i])
		if err != nil {
			damaged = append(damaged, stepError{saved[i], err})
			continue
		}
		if err := l.setAsideAll(damaged); err != nil {
			return st, err
		}
		if err := l.Metrics.TruncateAfter(st.Step); err != nil {
			return st, err
		}
		l.logf("resumed from the checkpoint of step %d", st.Step)
		if len(damaged) > 0 && l.Checkpointed != nil {
			return st, l.Checkpointed(st.Step, l.MaxSteps) // `pipeline status` showed a damaged one's step
		}
		return st, nil
	}
	if len(damaged) > 0 {
		return checkpointState{}, unreadableError(l.Dir, damaged)
	}
	return checkpointState{}, l.Metrics.TruncateAfter(0) // a run killed before its first checkpoint
}

// restore loads the checkpoint of step into Params, Opt and Data. A failed restore may leave Params and
// Data half written; a later successful one overwrites all of them.
func (l *Loop) restore(step int) (checkpointState, error) {
	st, err := loadCheckpoint(l.Dir, step, l.Specs, l.Params, l.Opt)
	if err != nil {
		return st, err
	}
	if err := l.Data.UnmarshalBinary(st.Data); err != nil {
		return st, fmt.Errorf("restoring the data position of step %d: %w", step, err)
	}
	return st, nil
}

// setAsideAll moves the damaged checkpoints aside, logging one line for each.
func (l *Loop) setAsideAll(damaged []stepError) error {
	for _, d := range damaged {
		dest, err := setAside(l.Dir, d.step)
		if err != nil {
			return fmt.Errorf("moving aside the damaged checkpoint of step %d (%v): %w", d.step, d.err, err)
		}
		l.logf("the checkpoint of step %d cannot be read (%v); moved it aside to %s, resuming from an older one", d.step, d.err, dest)
	}
	return nil
}

func (l *Loop) logf(format string, args ...any) {
	if l.Logf != nil {
		l.Logf(format, args...)
	}
}

func formatMetrics(m map[string]float64) string {
	s := ""
	for _, k := range sortedKeys(m) {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s %.4f", k, m[k])
	}
	return s
}
