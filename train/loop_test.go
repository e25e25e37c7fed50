package train

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"pipeline/optim"
	"pipeline/pipeline"
)

// toyData draws one random target vector per step from a PCG generator whose state it can save.
type toyData struct{ rng *rand.PCG }

func (d *toyData) MarshalBinary() ([]byte, error) { return d.rng.MarshalBinary() }
func (d *toyData) UnmarshalBinary(b []byte) error { return d.rng.UnmarshalBinary(b) }
func (d *toyData) next() float32                  { return float32(rand.New(d.rng).Float64()) }
func newToyData(seed uint64) *toyData             { return &toyData{rand.NewPCG(seed, 1)} }
func toySpecs() []optim.Spec {
	return []optim.Spec{{Name: "w", Shape: []int{2, 3}, Size: 6}, {Name: "b", Shape: []int{4}, Offset: 6, Size: 4}}
}
func checkpointsOf(dir string) ([]int, error) { return savedSteps(dir) }
func newMetrics(t *testing.T, dir string) *pipeline.Metrics {
	m, err := pipeline.OpenMetrics(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// newToyLoop minimises sum_i (p_i - y)^2 for a random y each step: loss and gradient 2(p - y).
func newToyLoop(t *testing.T, dir string, maxSteps int, poison map[int]bool) *Loop {
	specs := toySpecs()
	params := make([]float32, 10)
	for i := range params {
		params[i] = float32(i) / 10
	}
	grads := make([]float32, 10)
	opt, err := optim.NewAdamW(specs, optim.AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	data := newToyData(7)
	l := &Loop{Dir: dir, Specs: specs, Params: params, Grads: grads, Opt: opt,
		Schedule: optim.Schedule{PeakLR: 0.1, MinLR: 0.01, WarmupSteps: 2, TotalSteps: maxSteps},
		MaxSteps: maxSteps, GradClip: 1, EvalEvery: 3, CheckpointEvery: 4, KeepLast: 2,
		Data: data, Metrics: newMetrics(t, dir)}
	l.Step = func(ctx context.Context, step int) (Result, error) {
		y := data.next()
		loss := 0.0
		for i, p := range params {
			d := p - y
			loss += float64(d * d)
			grads[i] += 2 * d
		}
		if poison[step] {
			loss = math.NaN()
		}
		return Result{Loss: loss, Tokens: 1}, nil
	}
	l.Eval = func(ctx context.Context) (map[string]float64, error) {
		s := 0.0
		for _, p := range params {
			s += float64((p - 0.5) * (p - 0.5))
		}
		return map[string]float64{"val_loss": s}, nil
	}
	return l
}

func slabBytes(v []float32) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, v)
	return b.Bytes()
}

// Stopping at step k (Ctrl-C) and resuming gives the same bytes as a run never stopped.
func TestResumeIsBitExact(t *testing.T) {
	straight := newToyLoop(t, t.TempDir(), 10, nil)
	if err := straight.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{1, 4, 7} {
		dir := t.TempDir()
		stopAfter(t, dir, k, 2)
		second := newToyLoop(t, dir, 10, nil) // fresh params, optimizer and data: all come from the checkpoint
		if err := second.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(slabBytes(second.Params), slabBytes(straight.Params)) {
			t.Fatalf("k=%d: resumed params %v differ from straight %v", k, second.Params, straight.Params)
		}
	}
}

func TestNaNStopsAndKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	l := newToyLoop(t, dir, 10, map[int]bool{5: true})
	err := l.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "step 6: the loss is NaN; stopping with the last good checkpoint (step 4) kept") {
		t.Fatalf("got %v", err)
	}
	steps, _ := checkpointsOf(dir)
	if len(steps) == 0 || steps[len(steps)-1] != 4 {
		t.Fatalf("checkpoints %v", steps)
	}
}

// With checkpoints every 4 steps, keep-last 2 and validation every 3: the best and the last two stay.
func TestPruneKeepsLastAndBest(t *testing.T) {
	dir := t.TempDir()
	l := newToyLoop(t, dir, 10, nil)
	bestAt := 0
	l.Eval = func(ctx context.Context) (map[string]float64, error) {
		bestAt++
		v := map[int]float64{1: 3, 2: 1, 3: 2, 4: 5}[bestAt] // validations at steps 3, 6, 9, 10: best at 6
		return map[string]float64{"val_loss": v}, nil
	}
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	steps, _ := checkpointsOf(dir)
	if want := []int{6, 8, 10}; !equalInts(steps, want) {
		t.Fatalf("kept %v, want %v", steps, want)
	}
	if best, _ := BestStep(dir); best != 6 {
		t.Fatalf("best step %d, want 6", best)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A run killed before its first checkpoint left metrics of steps that will be run again: they go.
func TestRestartWithoutCheckpointDropsStaleMetrics(t *testing.T) {
	dir := t.TempDir()
	l := newToyLoop(t, dir, 2, nil)
	l.EvalEvery, l.CheckpointEvery = 0, 0
	l.Metrics.Log(map[string]any{"step": 1, "loss": 99.0})
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if strings.Count(string(b), `"step":1,`) != 1 || strings.Contains(string(b), `"loss":99`) {
		t.Fatalf("metrics:\n%s", b)
	}
}

// stopAfter runs a 10-step toy loop in dir keeping keepLast checkpoints and cancels it during step k
// (Ctrl-C): the step finishes, the loop checkpoints and stops before the next.
func stopAfter(t *testing.T, dir string, k, keepLast int) {
	t.Helper()
	l := newToyLoop(t, dir, 10, nil)
	l.KeepLast = keepLast
	ctx, cancel := context.WithCancel(context.Background())
	inner := l.Step
	l.Step = func(c context.Context, step int) (Result, error) {
		if step == k-1 {
			cancel()
		}
		return inner(c, step)
	}
	if err := l.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopping after step %d: want context.Canceled, got %v", k, err)
	}
}

// metricsWithoutTimes is metrics.jsonl without tokens_per_s, the one number that differs between runs.
func metricsWithoutTimes(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`,?"tokens_per_s":[^,}]*`).ReplaceAllString(string(b), "")
}

// stepEntries lists the names under dir/steps.
func stepEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, stepsDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// A run stopped with checkpoints at steps 3 (the best), 4 and 8 whose newest is then truncated resumes
// from step 4, moves step 8's aside, and ends as a run never stopped: the same weights, metrics and
// checkpoints, and the damaged one kept beside them.
func TestResumeSkipsDamagedCheckpoint(t *testing.T) {
	straight := newToyLoop(t, t.TempDir(), 10, nil)
	straight.KeepLast = 3
	if err := straight.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stopAfter(t, dir, 8, 3)
	if got, want := stepEntries(t, dir), []string{"00000003", "00000004", "00000008"}; !slices.Equal(got, want) {
		t.Fatalf("checkpoints before the damage %v, want %v", got, want)
	}
	params := filepath.Join(stepDir(dir, 8), "params.safetensors")
	if err := os.Truncate(params, 100); err != nil {
		t.Fatal(err)
	}

	second := newToyLoop(t, dir, 10, nil)
	second.KeepLast = 3
	var logs []string
	second.Logf = func(format string, args ...any) { logs = append(logs, fmt.Sprintf(format, args...)) }
	var marked []int
	second.Checkpointed = func(step, total int) error { marked = append(marked, step); return nil }
	if err := second.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantLogs := []string{
		"the checkpoint of step 8 cannot be read (safetensors " + params + ": header length 112 runs past the end of the 100-byte file); moved it aside to " + stepDir(dir, 8) + ".damaged, resuming from an older one",
		"resumed from the checkpoint of step 4",
	}
	if len(logs) < 2 || !slices.Equal(logs[:2], wantLogs) {
		t.Fatalf("log\n%s\nwant\n%s", strings.Join(logs, "\n"), strings.Join(wantLogs, "\n"))
	}
	if want := []int{4, 8, 10}; !slices.Equal(marked, want) {
		t.Fatalf("progress recorded at steps %v, want %v", marked, want)
	}
	if !bytes.Equal(slabBytes(second.Params), slabBytes(straight.Params)) {
		t.Fatalf("resumed params %v differ from straight %v", second.Params, straight.Params)
	}
	if got, want := metricsWithoutTimes(t, dir), metricsWithoutTimes(t, straight.Dir); got != want {
		t.Fatalf("metrics\n%s\nwant\n%s", got, want)
	}
	if got, want := stepEntries(t, dir), []string{"00000003", "00000004", "00000008", "00000008.damaged", "00000010"}; !slices.Equal(got, want) {
		t.Fatalf("steps/ holds %v, want %v", got, want)
	}
	if got, _ := savedSteps(straight.Dir); !slices.Equal(got, []int{3, 4, 8, 10}) {
		t.Fatalf("the straight run kept %v", got)
	}
	if b, err := os.ReadFile(filepath.Join(stepDir(dir, 8)+".damaged", "params.safetensors")); err != nil || len(b) != 100 {
		t.Fatalf("the damaged params: %d bytes, %v", len(b), err)
	}
}

// With every checkpoint damaged nothing is moved or trained: the error lists each one, newest first, and
// says how to start over, and a second attempt says the same.
func TestAllCheckpointsDamagedSaysHowToStartOver(t *testing.T) {
	dir := t.TempDir()
	stopAfter(t, dir, 8, 3)
	if err := os.Truncate(filepath.Join(stepDir(dir, 8), "params.safetensors"), 100); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stepDir(dir, 4), "state.json"), []byte(`{"step": 4, "da`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(stepDir(dir, 3), "optimizer.safetensors")); err != nil {
		t.Fatal(err)
	}
	want := "no step checkpoint in " + filepath.Join(dir, "steps") + " can be read; tried, newest first:\n" +
		"  step 8: safetensors " + filepath.Join(stepDir(dir, 8), "params.safetensors") + ": header length 112 runs past the end of the 100-byte file\n" +
		"  step 4: " + filepath.Join(stepDir(dir, 4), "state.json") + ": unexpected end of JSON input\n" +
		"  step 3: open " + filepath.Join(stepDir(dir, 3), "optimizer.safetensors") + ": no such file or directory\n" +
		"put back a good copy of one, or delete " + dir + " to start this stage over from step 0"
	for attempt := 1; attempt <= 2; attempt++ {
		l := newToyLoop(t, dir, 10, nil)
		err := l.Run(context.Background())
		if err == nil || err.Error() != want {
			t.Fatalf("attempt %d: got\n%v\nwant\n%s", attempt, err, want)
		}
		if got := stepEntries(t, dir); !slices.Equal(got, []string{"00000003", "00000004", "00000008"}) {
			t.Fatalf("attempt %d: steps/ holds %v", attempt, got)
		}
	}
}

// A second damaged copy of the same step is kept beside the first, under the next free name.
func TestSetAsideKeepsEarlierDamagedCopy(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"00000008", "00000008.damaged"} {
		if err := os.MkdirAll(filepath.Join(dir, stepsDir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dest, err := setAside(dir, 8)
	if err != nil {
		t.Fatal(err)
	}
	if want := stepDir(dir, 8) + ".damaged-2"; dest != want {
		t.Fatalf("moved to %s, want %s", dest, want)
	}
	if got, want := stepEntries(t, dir), []string{"00000008.damaged", "00000008.damaged-2"}; !slices.Equal(got, want) {
		t.Fatalf("steps/ holds %v, want %v", got, want)
	}
}
