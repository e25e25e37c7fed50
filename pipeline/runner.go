package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"pipeline/atomicfile"
)

// RunOptions choose which stages a run executes.
type RunOptions struct {
	From  string   // re-run this stage and every stage after it; earlier stages must be done
	Only  string   // run just this stage (if it is not done); its inputs must be done
	Until string   // stop after this stage: the stages after it are left as they are
	Force []string // re-run these stages even if done
	Out   io.Writer
}

// ErrInterrupted wraps a stage's context error so callers can say how to resume.
var ErrInterrupted = errors.New("interrupted")

// ErrUsage marks a request that cannot be carried out as asked (a stage name that does not exist, flags
// that exclude each other); the command line maps it to exit status 2.
var ErrUsage = errors.New("usage")

// Run executes the config's stages in order: a stage whose finished output matches its fingerprint is
// skipped, an interrupted one resumes, the rest run. Each stage builds in <stage>.partial/ and becomes
// <stage>/ by a rename only once it has finished, so a crash never leaves a half-written stage in place of a
// good one.
func Run(ctx context.Context, cfg *Config, opts RunOptions) error {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	for _, name := range append(append([]string{}, opts.Force...), opts.From, opts.Only, opts.Until) {
		if _, _, ok := cfg.StageByName(name); name != "" && !ok {
			return fmt.Errorf("%w: no stage named %q in %s", ErrUsage, name, cfg.File)
		}
	}
	if opts.From != "" && opts.Only != "" {
		return fmt.Errorf("%w: --from and --only cannot be used together", ErrUsage)
	}
	if opts.Until != "" && opts.Only != "" {
		return fmt.Errorf("%w: --until and --only cannot be used together", ErrUsage)
	}
	_, fromIdx, _ := cfg.StageByName(opts.From)
	untilIdx := len(cfg.Stages) - 1
	if opts.Until != "" {
		_, untilIdx, _ = cfg.StageByName(opts.Until)
	}
	if opts.From != "" && untilIdx < fromIdx {
		return fmt.Errorf("%w: --until %s comes before --from %s", ErrUsage, opts.Until, opts.From)
	}
	if err := os.MkdirAll(cfg.RunDir(), 0o755); err != nil {
		return err
	}
	unlock, err := lockDir(cfg.RunDir())
	if err != nil {
		return err
	}
	defer unlock()

	for _, st := range cfg.Stages {
		if err := atomicfile.RecoverDir(filepath.Join(cfg.RunDir(), st.Name)); err != nil {
			return err
		}
	}
	plans, err := Plan(cfg)
	if err != nil {
		return err
	}
	finished := map[string]string{}
	fps := map[string]string{}
	for _, p := range plans {
		fps[p.Stage.Name] = p.Fingerprint
	}
	for i, p := range plans[:untilIdx+1] {
		name := p.Stage.Name
		forced := contains(opts.Force, name) || (opts.From != "" && i >= fromIdx)
		selected := (opts.Only == "" || opts.Only == name) && (opts.From == "" || i >= fromIdx)
		if !selected {
			if p.State == Done {
				finished[name] = p.Dir
			}
			continue
		}
		for _, in := range p.Stage.Inputs() {
			if _, ok := finished[in]; !ok {
				return fmt.Errorf("stage %s needs stage %s, which is not done; run it first (without --only/--from)", name, in)
			}
		}
		if p.State == Done && !forced {
			fmt.Fprintf(opts.Out, "%-12s done, skipped (fingerprint %s)\n", name, p.Fingerprint[:12])
			finished[name] = p.Dir
			continue
		}
		if err := runStage(ctx, cfg, p, forced, finished, fps, opts.Out); err != nil {
			return err
		}
		finished[name] = p.Dir
	}
	return nil
}

func runStage(ctx context.Context, cfg *Config, p *StagePlan, forced bool, finished, fps map[string]string, out io.Writer) error {
	st := p.Stage
	kind, _ := LookupKind(st.Kind)
	switch {
	case p.State == Partial:
		// Forced or not, an interrupted run with this fingerprint resumes: resuming ends in the bytes a
		// fresh run would, so a forced stage re-runs all the same, only without redoing finished steps.
		fmt.Fprintf(out, "%-12s resuming: %s\n", st.Name, p.Describe())
		if forced {
			fmt.Fprintf(out, "%-12s (the interrupted forced run; delete %s to start it over)\n", st.Name, p.WorkDir)
		}
	case forced:
		fmt.Fprintf(out, "%-12s running (forced)\n", st.Name)
		if err := os.RemoveAll(p.WorkDir); err != nil {
			return err
		}
	default:
		fmt.Fprintf(out, "%-12s running (%s)\n", st.Name, p.State)
		var other partialState
		if readJSON(filepath.Join(p.WorkDir, partialFile), &other) == nil {
			fmt.Fprintf(out, "%-12s discarding the interrupted run in %s: it was made with another config or inputs\n", st.Name, p.WorkDir)
		}
		if err := os.RemoveAll(p.WorkDir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(p.WorkDir, 0o755); err != nil {
		return err
	}
	attemptStarted := time.Now().UTC()
	started, resumedSeconds := attemptStarted, 0.0
	var prev partialState
	resumed := readJSON(filepath.Join(p.WorkDir, partialFile), &prev) == nil && prev.Fingerprint == p.Fingerprint
	if resumed {
		started = prev.Started
		var prog Progress
		if readJSON(filepath.Join(p.WorkDir, progressFile), &prog) == nil {
			resumedSeconds = prog.Seconds
		}
	} else if err := writeJSON(filepath.Join(p.WorkDir, partialFile), partialState{p.Fingerprint, started}); err != nil {
		return err
	}
	metrics, err := OpenMetrics(filepath.Join(p.WorkDir, "metrics.jsonl"))
	if err != nil {
		return err
	}
	env := &Env{Config: cfg, Stage: st, Dir: p.WorkDir, Metrics: metrics, Log: out, finished: finished,
		attemptStarted: attemptStarted, resumedSeconds: resumedSeconds}
	runErr := kind.Run(ctx, env, st.Options)
	if err := metrics.Close(); runErr == nil {
		runErr = err
	}
	if runErr != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("stage %s: %w: run the same command again to resume", st.Name, ErrInterrupted)
		}
		return fmt.Errorf("stage %s: %w", st.Name, runErr)
	}

	if err := os.Remove(filepath.Join(p.WorkDir, progressFile)); err != nil && !os.IsNotExist(err) {
		return err
	}
	artifacts, err := listArtifacts(p.WorkDir)
	if err != nil {
		return err
	}
	inputs := map[string]string{}
	for _, in := range st.Inputs() {
		inputs[in] = fps[in]
	}
	now, work := time.Now().UTC(), env.workSeconds()
	m := Manifest{Name: st.Name, Kind: st.Kind, Fingerprint: p.Fingerprint, Status: "done", Started: started,
		Finished: now, Seconds: work, Inputs: inputs, Files: p.Files, Options: yamlKeyed(st.Options),
		Artifacts: artifacts, Summary: env.summary}
	if err := writeJSON(filepath.Join(p.WorkDir, manifestFile), m); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(p.WorkDir, partialFile)); err != nil {
		return err
	}
	if err := atomicfile.ReplaceDir(p.WorkDir, p.Dir); err != nil {
		return err
	}
	took := seconds(work).String()
	if resumed {
		took += fmt.Sprintf(" of work (resumed; %s since it first started)", now.Sub(started).Round(time.Second))
	}
	fmt.Fprintf(out, "%-12s done in %s -> %s\n", st.Name, took, p.Dir)
	return nil
}

// Running reports whether a `pipeline run` holds cfg's run directory now: then its partial stage is the
// one being trained, not an interrupted one.
func Running(cfg *Config) bool {
	if _, err := os.Stat(filepath.Join(cfg.RunDir(), ".lock")); err != nil {
		return false
	}
	unlock, err := lockDir(cfg.RunDir())
	if err != nil {
		return true
	}
	unlock()
	return false
}

// lockDir takes an exclusive lock on dir/.lock so that two runs never write the same stages at once.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another pipeline run is using %s", dir)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// yamlKeyed re-expresses options under their YAML keys (as the config spells them) for the manifest.
func yamlKeyed(opts any) any {
	b, err := yaml.Marshal(opts)
	if err != nil {
		return opts
	}
	var m map[string]any
	if yaml.Unmarshal(b, &m) != nil {
		return opts
	}
	return m
}

// seconds is a duration of s seconds, rounded to the millisecond.
func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond)
}
