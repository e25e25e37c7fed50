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
	Reason      string    // why a stage whose fingerprint matches is stale anyway (a damaged file)
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
		if bad := damaged(dir, m.Artifacts); bad != "" {
			p.Reason = bad
			return Stale
		}
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
		unit := p.Progress.Unit
		if unit == "" {
			unit = "step"
		}
		return fmt.Sprintf("partial (%s %d of %d)", unit, p.Progress.Step, p.Progress.Total)
	case p.State == Partial:
		return "partial (no checkpoint yet)"
	case p.Reason != "":
		return "stale (" + p.Reason + ")"
	}
	return string(p.State)
}

// damaged checks that every file a finished stage listed in its manifest is still there with its size
// (hashing every checkpoint at each plan would cost seconds; a size check catches truncation and loss).
func damaged(dir string, artifacts []Artifact) string {
	for _, a := range artifacts {
		info, err := os.Stat(filepath.Join(dir, filepath.FromSlash(a.Path)))
		switch {
		case err != nil:
			return a.Path + " is missing"
		case info.Size() != a.Bytes:
			return fmt.Sprintf("%s has %d bytes, the manifest says %d", a.Path, info.Size(), a.Bytes)
		}
	}
	return ""
}
