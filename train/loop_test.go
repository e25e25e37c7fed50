package train

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
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
		first := newToyLoop(t, dir, 10, nil)
		ctx, cancel := context.WithCancel(context.Background())
		inner := first.Step
		first.Step = func(c context.Context, step int) (Result, error) {
			if step == k-1 {
				cancel() // the step finishes; the loop checkpoints and stops before the next
			}
			return inner(c, step)
		}
		if err := first.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("k=%d: want context.Canceled, got %v", k, err)
		}
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
