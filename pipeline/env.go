package pipeline

import (
	"fmt"
	"io"
	"path/filepath"
	"time"
)

// Env is what a running stage gets from the runner.
type Env struct {
	Config  *Config      // the whole resolved run config (seed, model block, all stages)
	Stage   *StageConfig // this stage's name and kind
	Dir     string       // the stage's working directory; all its output goes here
	Metrics *Metrics     // metrics.jsonl in Dir
	Log     io.Writer    // human-readable progress lines

	finished map[string]string // upstream stage name -> its finished directory
	summary  map[string]any    // headline numbers for the manifest

	attemptStarted time.Time // when this attempt at the stage started
	resumedSeconds float64   // the earlier attempts' work up to the checkpoint this one resumes from
}

// Input returns the finished output directory of the upstream stage named stage.
// The runner guarantees that every stage named by a ref field of the options is finished first.
func (e *Env) Input(stage string) (string, error) {
	dir, ok := e.finished[stage]
	if !ok {
		return "", fmt.Errorf("stage %q: input stage %q is not finished", e.Stage.Name, stage)
	}
	return dir, nil
}

// Path joins elements under the stage's working directory.
func (e *Env) Path(elem ...string) string {
	return filepath.Join(append([]string{e.Dir}, elem...)...)
}

// Logf writes one line of progress for people.
func (e *Env) Logf(format string, args ...any) {
	fmt.Fprintf(e.Log, "[%s] %s\n", e.Stage.Name, fmt.Sprintf(format, args...))
}
