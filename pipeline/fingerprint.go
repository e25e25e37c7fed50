package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// ModelIndependent is implemented by kinds whose output does not depend on the `model:` block (the
// tokenizer, the task generator): changing the model's shape then does not re-run them.
type ModelIndependent interface{ IgnoresModel() }

// fingerprintVersion changes when the meaning of a stage's output changes for the same config, so that
// outputs of an older binary are re-made rather than trusted.
const fingerprintVersion = 1

// FileHash is an input file and the sha256 of its contents.
type FileHash struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// fingerprint is the sha256 of everything a stage's output depends on: its kind and resolved options,
// the run's seed, the model block (unless the kind ignores it), the fingerprints of the stages it reads
// and the contents of the files it reads. It changes when, and only when, one of those changes.
func fingerprint(cfg *Config, st *StageConfig, upstream map[string]string) (string, []FileHash, error) {
	rec := struct {
		Version int               `json:"version"`
		Kind    string            `json:"kind"`
		Seed    int64             `json:"seed"`
		Model   *ModelConfig      `json:"model,omitempty"`
		Options any               `json:"options"`
		Inputs  map[string]string `json:"inputs"`
		Files   []FileHash        `json:"files"`
	}{Version: fingerprintVersion, Kind: st.Kind, Seed: cfg.Seed, Options: st.Options, Inputs: map[string]string{}}
	kind, _ := LookupKind(st.Kind)
	if _, ok := kind.(ModelIndependent); !ok {
		rec.Model = &cfg.Model
	}
	for _, in := range st.Inputs() {
		fp, ok := upstream[in]
		if !ok {
			return "", nil, fmt.Errorf("stage %s: input %q has no fingerprint", st.Name, in)
		}
		rec.Inputs[in] = fp
	}
	files, err := st.Files(cfg)
	if err != nil {
		return "", nil, err
	}
	for _, f := range files {
		sum, err := hashFile(f)
		if err != nil {
			return "", nil, fmt.Errorf("stage %s: %w", st.Name, err)
		}
		rec.Files = append(rec.Files, FileHash{Path: f, SHA256: sum})
	}
	// Paths enter only through their contents' hashes and order, so moving the config does not re-run.
	keyed := rec
	keyed.Files = make([]FileHash, len(rec.Files))
	for i, f := range rec.Files {
		keyed.Files[i] = FileHash{SHA256: f.SHA256}
	}
	b, err := json.Marshal(keyed)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), rec.Files, nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
