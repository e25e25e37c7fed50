package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"pipeline/tasks"
)

// The command's flags reach the library: it writes what tasks.Build writes for the same config and seed.
func TestTasksCommand(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	app := &cli.App{Writer: &out, Commands: []*cli.Command{tasksCommand()}}
	err := app.Run([]string{"pipeline", "tasks", "--out", dir, "--tasks", "arithmetic", "--train", "30", "--eval", "5",
		"--fewshot", "2", "--min-digits", "1", "--max-digits", "4", "--worked-fraction", "0.25", "--seed", "9"})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "arithmetic: 30 train, 5 eval, 2 fewshot\n" {
		t.Errorf("printed %q", got)
	}
	cfg := tasks.DefaultConfig()
	cfg.Tasks, cfg.Train, cfg.Eval, cfg.FewShot = []string{tasks.Arithmetic}, 30, 5, 2
	cfg.MinDigits, cfg.MaxDigits, cfg.WorkedFraction = 1, 4, 0.25
	// The command writes what the library writes for the same config and seed.
	cfg.Seed = 9
	want, err := tasks.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref := t.TempDir()
	if err := want.Write(ref); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"sft.jsonl", "prompts.jsonl", "arithmetic/train.jsonl", "arithmetic/prefs_eval.jsonl"} {
		a, err := os.ReadFile(filepath.Join(dir, rel))
		b, _ := os.ReadFile(filepath.Join(ref, rel))
		if err != nil || !bytes.Equal(a, b) || len(a) == 0 {
			t.Errorf("%s: %d bytes (%v), want the library's %d", rel, len(a), err, len(b))
		}
	}
}

func TestRunTasksNamesFlags(t *testing.T) {
	cfg := tasks.DefaultConfig()
	cfg.MaxDigits = 12
	err := runTasks(context.Background(), tasksOptions{Out: t.TempDir(), Config: cfg}, &bytes.Buffer{})
	if !errors.Is(err, errUsage) {
		t.Fatalf("err = %v, want a usage error", err)
	}
	for _, want := range []string{"--corpus: the verse tasks need the KJV text", "--max-digits: must be min_digits (2)..9, got 12"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
}
