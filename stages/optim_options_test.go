package stages

import (
	"math"
	"testing"

	"pipeline/pipeline"
)

// max_steps must be positive and, times a step's optimizer updates, within the 8-digit checkpoint names;
// a count past that is one problem at max_steps, with no knock-on problem for the schedule.
func TestStepCount(t *testing.T) {
	for _, c := range []struct {
		v, per int
		ok     bool
		msg    string
	}{
		{-5, 1, false, "must be positive, got -5"},
		{math.MaxInt64, 1, false, "9223372036854775807 steps of 1 optimizer updates exceed the 99999999 updates a stage can checkpoint"},
		{12_500_000, 8, false, "12500000 steps of 8 optimizer updates exceed the 99999999 updates a stage can checkpoint"},
		{12_499_999, 8, true, ""},
		{99_999_999, 1, true, ""},
	} {
		var msg string
		ok := stepCount(func(key, m string) { msg = key + ": " + m }, "max_steps", c.v, c.per)
		if want := map[bool]string{true: "", false: "max_steps: " + c.msg}[c.ok]; ok != c.ok || msg != want {
			t.Errorf("stepCount(%d, %d) = %v, %q; want %v, %q", c.v, c.per, ok, msg, c.ok, want)
		}
	}
	o := ppoKind{}.Defaults().(*ppoOptions)
	o.Prompts, o.MaxSteps = "tasks", math.MaxInt64
	var keys []string
	ppoKind{}.Validate(o, &pipeline.Config{Model: pipeline.ModelConfig{NPositions: 16}}, func(key, _ string) { keys = append(keys, key) })
	if len(keys) != 1 || keys[0] != "max_steps" {
		t.Errorf("ppo with max_steps %d: problems at %v, want max_steps alone", o.MaxSteps, keys)
	}
}
