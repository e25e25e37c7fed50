package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
)

// State is where a stage stands on disk relative to the current config.
type State string

const (
	Done    State = "done"    // finished, and its fingerprint matches the config
	Partial State = "partial" // started with this config and interrupted; the next run resumes it
	Stale   State = "stale"   // finished, but the config, an input file or an upstream stage changed
	Pending State = "pending" // never run
)

// StagePlan is one stage's fingerprint and state, computed before anything runs.
type StagePlan struct {
	Stage       *StageConfig
	Fingerprint string
	Files       []FileHash
	State       State
	Progress    *Progress // for partial stages that recorded one
	Dir         string    // the finished directory <out>/<run>/<stage>
	WorkDir     string    // where it is built: <out>/<run>/<stage>.partial
}

// Plan computes every stage's fingerprint and state, in order. It runs nothing.
func Plan(cfg *Config) ([]*StagePlan, error) {
	fps := map[string]string{}
	var plans []*StagePlan
	for _, st := range cfg.Stages {
		fp, files, err := fingerprint(cfg, st, fps)
		if err != nil {
			return nil, err
		}
		fps[st.Name] = fp
		p := &StagePlan{Stage: st, Fingerprint: fp, Files: files,
			Dir: filepath.Join(cfg.RunDir(), st.Name), WorkDir: filepath.Join(cfg.RunDir(), st.Name+".partial")}
		p.State = p.readState()
		plans = append(plans, p)
	}
	return plans, nil
}

func (p *StagePlan) readState() State {
	var part partialState
	if err := readJSON(filepath.Join(p.WorkDir, partialFile), &part); err == nil && part.Fingerprint == p.Fingerprint {
		var prog Progress
		if readJSON(filepath.Join(p.WorkDir, progressFile), &prog) == nil {
			p.Progress = &prog
		}
		return Partial
	}
	dir := p.Dir
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		dir += ".old" // a replace cut between its renames; RecoverDir will restore it
	}
	m, err := readManifest(dir)
	switch {
	case err == nil && m.Fingerprint == p.Fingerprint && m.Status == "done":
		return Done
	case err == nil:
		return Stale
	}
	return Pending
}

// Describe is the one-line state for `pipeline status`.
func (p *StagePlan) Describe() string {
	switch {
	case p.State == Partial && p.Progress != nil:
		return fmt.Sprintf("partial (step %d of %d)", p.Progress.Step, p.Progress.Total)
	case p.State == Partial:
		return "partial (no checkpoint yet)"
	}
	return string(p.State)
}
