package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
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
//
// An option whose field carries the tag `fingerprint:"-"` does not enter it (its value is replaced by the
// zero value before hashing), so that changing it neither makes a finished stage stale nor discards an
// interrupted one. The rule for the tag: the option may change only how often the stage saves, logs or
// validates and how many of its step checkpoints it keeps; never the weights or data it hands downstream,
// nor the numbers it records as its result (the manifest's summary, its final held-out scores). Training
// resumes bit-exactly from any step checkpoint and validation only reads the weights, so checkpoint_every,
// keep_last and eval_every qualify: a run resumed with another eval_every ends with the same weights and the
// same final held-out numbers, and only the cadence of the val_* rows in metrics.jsonl (and so which step
// checkpoint is kept as the best) differs, which is not worth hours of re-training. eval_batches does not
// qualify (it changes the held-out numbers themselves), nor does anything a self-check records in the
// summary (sample_tokens, check_prompts). A finished stage's manifest keeps the options it was made with.
func fingerprint(cfg *Config, st *StageConfig, upstream map[string]string) (fp string, files []FileHash, err error) {
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
	paths, err := st.Files(cfg)
	if err != nil {
		return "", nil, err
	}
	for _, f := range paths {
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
	keyed.Options = fingerprinted(st.Options)
	for _, in := range st.Inputs() {
		fp, ok := upstream[in]
		if !ok {
			return "", nil, fmt.Errorf("stage %s: input %q has no fingerprint", st.Name, in)
		}
		keyed.Inputs[in] = fp
	}
	b, err := json.Marshal(keyed)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), rec.Files, nil
}

// fingerprinted returns opts (a pointer to an options struct) with every field tagged `fingerprint:"-"`,
// in nested structs too, set to its zero value; opts itself when it has none.
func fingerprinted(opts any) any {
	v := reflect.ValueOf(opts)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct || !hasUnfingerprinted(v.Elem().Type()) {
		return opts
	}
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	clearUnfingerprinted(c.Elem())
	return c.Interface()
}

func hasUnfingerprinted(t reflect.Type) bool {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Tag.Get("fingerprint") == "-" || (f.Type.Kind() == reflect.Struct && hasUnfingerprinted(f.Type)) {
			return true
		}
	}
	return false
}

func clearUnfingerprinted(v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		switch {
		case f.Tag.Get("fingerprint") == "-":
			// Set through the field's address so that unexported embedded structs (optimOptions) work too.
			reflect.NewAt(f.Type, v.Field(i).Addr().UnsafePointer()).Elem().SetZero()
		case f.Type.Kind() == reflect.Struct:
			clearUnfingerprinted(v.Field(i))
		}
	}
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
