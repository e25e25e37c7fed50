package pipeline

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"pipeline/atomicfile"
)

// Manifest is manifest.json in a finished stage directory: what made it and what it holds.
//
// Seconds is what the stage's work took: the time of its last attempt plus, when that resumed an
// interrupted one, the earlier attempts' time up to the checkpoint it resumed from. It leaves out the
// time between attempts and the work an interruption lost, so it is what a run never interrupted would
// have taken; Started and Finished are the wall-clock ends of all the attempts.
type Manifest struct {
	Name        string            `json:"name"`
	Kind        string            `json:"kind"`
	Fingerprint string            `json:"fingerprint"`
	Status      string            `json:"status"`
	Started     time.Time         `json:"started"`  // when the first attempt started
	Finished    time.Time         `json:"finished"` // when the last attempt finished
	Seconds     float64           `json:"seconds"`
	Inputs      map[string]string `json:"inputs"` // upstream stage -> its fingerprint
	Files       []FileHash        `json:"files"`  // input files
	Options     any               `json:"options"`
	Artifacts   []Artifact        `json:"artifacts"`
	Summary     map[string]any    `json:"summary,omitempty"` // the stage's own headline numbers
}

// Artifact is one file a stage wrote.
type Artifact struct {
	Path   string `json:"path"` // relative to the stage directory
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// partialState is partial.json in a stage's working directory while it is unfinished.
type partialState struct {
	Fingerprint string    `json:"fingerprint"`
	Started     time.Time `json:"started"`
}

// Progress is progress.json, written by a stage each time it checkpoints, read by `pipeline status` and
// by the runner when it resumes the stage.
type Progress struct {
	Step    int     `json:"step"`
	Total   int     `json:"total"`
	Unit    string  `json:"unit,omitempty"` // what Step and Total count; empty means training steps
	Seconds float64 `json:"seconds"`        // the stage's work up to this checkpoint, over all its attempts
}

const (
	manifestFile = "manifest.json"
	partialFile  = "partial.json"
	progressFile = "progress.json"
)

// MarkProgress records that the stage has a checkpoint at step of total.
func (e *Env) MarkProgress(step, total int) error {
	return e.MarkProgressIn("", step, total)
}

// MarkProgressIn records that the stage has a checkpoint at n of total in a unit of its own (ppo: n
// iterations of total, each several training steps).
func (e *Env) MarkProgressIn(unit string, n, total int) error {
	return writeJSON(e.Path(progressFile), Progress{Step: n, Total: total, Unit: unit, Seconds: e.workSeconds()})
}

// workSeconds is the stage's work so far: the earlier attempts' up to the checkpoint this one resumed
// from, and this attempt's.
func (e *Env) workSeconds() float64 {
	return e.resumedSeconds + time.Since(e.attemptStarted).Seconds()
}

// SetSummary records headline numbers of the stage (final loss, accuracy, ...) for its manifest.
func (e *Env) SetSummary(key string, value any) {
	if e.summary == nil {
		e.summary = map[string]any{}
	}
	e.summary[key] = value
}

func readManifest(dir string) (*Manifest, error) {
	var m Manifest
	return &m, readJSON(filepath.Join(dir, manifestFile), &m)
}

// ReadManifest reads the manifest of a finished stage directory.
func ReadManifest(dir string) (*Manifest, error) { return readManifest(dir) }

// listArtifacts hashes every file under dir, in path order.
func listArtifacts(dir string) ([]Artifact, error) {
	var out []Artifact
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == partialFile || rel == manifestFile {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sum, err := hashFile(path)
		if err != nil {
			return err
		}
		out = append(out, Artifact{Path: filepath.ToSlash(rel), Bytes: info.Size(), SHA256: sum})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
