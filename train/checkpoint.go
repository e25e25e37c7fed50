package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"pipeline/atomicfile"
	"pipeline/optim"
	"pipeline/safetensors"
)

// A step checkpoint is a directory steps/<step, 8 digits>/ holding
//
//	params.safetensors     the trainable tensors, by name
//	optimizer.safetensors  AdamW's m, v and t
//	state.json             the loop's position: step, best validation loss, the data source's state
//
// It is built under a temporary name and renamed into place, so a directory with a step name is complete.
// Only outside damage (a failing disk, a bad copy) makes one unreadable; resuming then moves it aside to
// steps/<step>.damaged (setAside) and goes on from the newest older one that loads. The files hold no
// checksums: a checkpoint is damaged when it fails to load.
type checkpointState struct {
	Step     int      `json:"step"`
	BestVal  *float64 `json:"best_val"`  // lowest validation loss so far; nil before the first validation
	BestStep int      `json:"best_step"` // the step whose checkpoint holds it, kept by pruning
	Data     []byte   `json:"data"`      // the batch source's state (base64 in JSON)
}

const stepsDir = "steps"

func stepDir(root string, step int) string {
	return filepath.Join(root, stepsDir, fmt.Sprintf("%08d", step))
}

// saveCheckpoint writes the checkpoint of step atomically.
func saveCheckpoint(root string, specs []optim.Spec, params []float32, opt *optim.AdamW, st checkpointState) error {
	final := stepDir(root, st.Step)
	tmp := filepath.Join(root, stepsDir, fmt.Sprintf(".tmp-%08d", st.Step))
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	pf := &safetensors.File{Tensors: map[string]safetensors.Tensor{}}
	for _, s := range specs {
		pf.Tensors[s.Name] = safetensors.FromFloat32(s.Shape, params[s.Offset:s.Offset+s.Size])
	}
	if err := safetensors.WriteFile(filepath.Join(tmp, "params.safetensors"), pf); err != nil {
		return err
	}
	if err := safetensors.WriteFile(filepath.Join(tmp, "optimizer.safetensors"), opt.State()); err != nil {
		return err
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, "state.json"), b, 0o644); err != nil {
		return err
	}
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(final))
}

// loadCheckpoint restores params, the optimizer and the loop state from the checkpoint of step.
func loadCheckpoint(root string, step int, specs []optim.Spec, params []float32, opt *optim.AdamW) (checkpointState, error) {
	var st checkpointState
	dir := stepDir(root, step)
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", filepath.Join(dir, "state.json"), err)
	}
	if st.Step != step {
		return st, fmt.Errorf("%s is of step %d", filepath.Join(dir, "state.json"), st.Step)
	}
	pf, err := safetensors.ReadFile(filepath.Join(dir, "params.safetensors"))
	if err != nil {
		return st, err
	}
	if len(pf.Tensors) != len(specs) {
		return st, fmt.Errorf("%s holds %d tensors, the model trains %d", dir, len(pf.Tensors), len(specs))
	}
	for _, s := range specs {
		v, err := pf.Float32(s.Name, s.Shape...)
		if err != nil {
			return st, fmt.Errorf("%s: %w", dir, err)
		}
		copy(params[s.Offset:s.Offset+s.Size], v)
	}
	of, err := safetensors.ReadFile(filepath.Join(dir, "optimizer.safetensors"))
	if err != nil {
		return st, err
	}
	if err := opt.LoadState(of); err != nil {
		return st, fmt.Errorf("%s: %w", dir, err)
	}
	return st, nil
}

// damagedSuffix ends the name a damaged checkpoint is renamed to. Such a directory is kept, never
// deleted, for a person to look at or remove; as its name is no step number, savedSteps, and so resuming,
// prune and BestStep, pass over it.
const damagedSuffix = ".damaged"

// setAside renames the checkpoint of step to <step>.damaged (<step>.damaged-2, -3, ... when that name is
// taken by an earlier damaged copy of the same step) and returns the new path.
func setAside(root string, step int) (string, error) {
	dir := stepDir(root, step)
	dest := dir + damagedSuffix
	for n := 2; ; n++ {
		_, err := os.Lstat(dest)
		if os.IsNotExist(err) {
			break
		}
		if err != nil {
			return "", err
		}
		dest = fmt.Sprintf("%s%s-%d", dir, damagedSuffix, n)
	}
	if err := os.Rename(dir, dest); err != nil {
		return "", err
	}
	return dest, atomicfile.SyncDir(filepath.Dir(dir))
}

// stepError is why the checkpoint of step failed to load.
type stepError struct {
	step int
	err  error
}

// unreadableError is the error of a resume that found checkpoints under root but could load none of
// them: each one tried, newest first, and how to start the stage over.
func unreadableError(root string, damaged []stepError) error {
	var b strings.Builder
	fmt.Fprintf(&b, "no step checkpoint in %s can be read; tried, newest first:\n", filepath.Join(root, stepsDir))
	for _, d := range damaged {
		fmt.Fprintf(&b, "  step %d: %v\n", d.step, d.err)
	}
	fmt.Fprintf(&b, "put back a good copy of one, or delete %s to start this stage over from step 0", root)
	return errors.New(b.String())
}

// savedSteps lists the complete checkpoints under root, oldest first.
func savedSteps(root string) ([]int, error) {
	entries, err := os.ReadDir(filepath.Join(root, stepsDir))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var steps []int
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
			steps = append(steps, n)
		}
	}
	sort.Ints(steps)
	return steps, nil
}

// prune deletes step checkpoints other than the last keep ones and the best one.
func prune(root string, keep, best int) error {
	steps, err := savedSteps(root)
	if err != nil {
		return err
	}
	for i, s := range steps {
		if i >= len(steps)-keep || s == best {
			continue
		}
		if err := os.RemoveAll(stepDir(root, s)); err != nil {
			return err
		}
	}
	return nil
}

// BestStep returns the step of the best checkpoint under root (the last one when there was no validation).
func BestStep(root string) (int, error) {
	steps, err := savedSteps(root)
	if err != nil || len(steps) == 0 {
		return 0, fmt.Errorf("no checkpoint under %s", filepath.Join(root, stepsDir))
	}
	b, err := os.ReadFile(filepath.Join(stepDir(root, steps[len(steps)-1]), "state.json"))
	if err != nil {
		return 0, err
	}
	var st checkpointState
	if err := json.Unmarshal(b, &st); err != nil {
		return 0, err
	}
	if st.BestStep > 0 {
		return st.BestStep, nil
	}
	return st.Step, nil
}
