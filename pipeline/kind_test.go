package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"pipeline/atomicfile"
)

// countKind is a test-only stage kind: it "trains" by adding step numbers, checkpointing after every step,
// so the runner's skip, resume, force and atomic-output behaviour can be tested without a model.
type countKind struct{}

type countOptions struct {
	Steps int      `yaml:"steps" required:"true" doc:"steps to count"`
	Input string   `yaml:"input" ref:"count" doc:"an upstream count stage whose total is added"`
	Data  []string `yaml:"data" file:"true" doc:"files whose byte counts are added"`
	Note  string   `yaml:"note" doc:"free text"`
	// KeepLast stands for the options that do not change a stage's output (see fingerprint).
	KeepLast int `yaml:"keep_last" fingerprint:"-" doc:"ignored; left out of the fingerprint"`
}

// Test hooks: the steps each stage executed, and a step at which a stage fails as if killed.
var (
	executed = map[string][]int{}
	failAt   = map[string]int{}
)

func (countKind) Name() string  { return "count" }
func (countKind) Doc() string   { return "test-only: counts steps" }
func (countKind) Defaults() any { return &countOptions{} }
func (countKind) IgnoresModel() {}

func (countKind) Validate(opts any, run *Config, report func(key, msg string)) {
	if o := opts.(*countOptions); o.Steps <= 0 {
		report("steps", fmt.Sprintf("must be positive, got %d", o.Steps))
	}
}

func (countKind) Run(ctx context.Context, env *Env, opts any) error {
	o := opts.(*countOptions)
	step, sum := 0, 0
	if b, err := os.ReadFile(env.Path("state.txt")); err == nil { // resume
		fmt.Sscanf(string(b), "%d %d", &step, &sum)
		if err := env.Metrics.TruncateAfter(step); err != nil {
			return err
		}
	}
	for step < o.Steps {
		step++
		if failAt[env.Stage.Name] == step {
			return errors.New("killed")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		executed[env.Stage.Name] = append(executed[env.Stage.Name], step)
		sum += step
		env.Metrics.Log(map[string]any{"step": step, "sum": sum})
		if err := atomicfile.WriteFile(env.Path("state.txt"), []byte(fmt.Sprintf("%d %d", step, sum)), 0o644); err != nil {
			return err
		}
		if err := env.MarkProgress(step, o.Steps); err != nil {
			return err
		}
	}
	if o.Input != "" {
		dir, err := env.Input(o.Input)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(dir, "total.txt"))
		if err != nil {
			return err
		}
		up, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		sum += up
	}
	for _, f := range o.Data {
		b, err := os.ReadFile(env.Config.Resolve(f))
		if err != nil {
			return err
		}
		sum += len(b)
	}
	return atomicfile.WriteFile(env.Path("total.txt"), []byte(strconv.Itoa(sum)+"\n"), 0o644)
}

func init() { Register(countKind{}) }
