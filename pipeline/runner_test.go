package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func resetHooks() {
	executed = map[string][]int{}
	failAt = map[string]int{}
}

func mustLoad(t *testing.T, path string, sets ...string) *Config {
	t.Helper()
	cfg, err := Load(path, sets)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func fingerprints(t *testing.T, cfg *Config) map[string]string {
	t.Helper()
	plans, err := Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range plans {
		out[p.Stage.Name] = p.Fingerprint
	}
	return out
}

// A fingerprint changes when, and only when, the stage's config, its input files or an upstream stage change.
func TestFingerprintChangesOnlyWithItsInputs(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "d.txt"), []byte("abc"), 0o644)
	path := writeConfig(t, dir, goodConfig+"    data: [d.txt]\n")
	base := fingerprints(t, mustLoad(t, path))
	if again := fingerprints(t, mustLoad(t, path)); !reflect.DeepEqual(base, again) {
		t.Fatal("same config, different fingerprints")
	}
	cases := []struct {
		name    string
		sets    []string
		changed []string
	}{
		{"own option", []string{"stages.b.steps=5"}, []string{"b"}},
		{"upstream option", []string{"stages.a.steps=5"}, []string{"a", "b"}},
		{"unrelated stage", []string{"stages.c.note=x"}, []string{"c"}},
		{"seed", []string{"seed=2"}, []string{"a", "b", "c"}},
		{"model, which count ignores", []string{"model.n_layer=3"}, nil},
		{"an option tagged fingerprint:\"-\"", []string{"stages.a.keep_last=7"}, nil},
	}
	for _, c := range cases {
		got := fingerprints(t, mustLoad(t, path, c.sets...))
		var changed []string
		for _, name := range []string{"a", "b", "c"} {
			if got[name] != base[name] {
				changed = append(changed, name)
			}
		}
		if !reflect.DeepEqual(changed, c.changed) {
			t.Errorf("%s: changed %v, want %v", c.name, changed, c.changed)
		}
	}
	// File contents count; the file's timestamp does not.
	os.Chtimes(filepath.Join(dir, "d.txt"), timeZero, timeZero)
	if got := fingerprints(t, mustLoad(t, path)); got["c"] != base["c"] {
		t.Error("touching a file changed the fingerprint")
	}
	os.WriteFile(filepath.Join(dir, "d.txt"), []byte("abd"), 0o644)
	if got := fingerprints(t, mustLoad(t, path)); got["c"] == base["c"] || got["a"] != base["a"] {
		t.Error("editing c's data file must change c's fingerprint and only c's")
	}
}

func readTotal(t *testing.T, cfg *Config, stage string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cfg.RunDir(), stage, "total.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestRunSkipResumeForce(t *testing.T) {
	resetHooks()
	path := writeConfig(t, t.TempDir(), goodConfig)
	cfg := mustLoad(t, path)
	ctx := context.Background()
	if err := Run(ctx, cfg, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	// a: 1+2+3+4 = 10; b: 1+2 + a's 10 = 13; c: 1.
	if a, b, c := readTotal(t, cfg, "a"), readTotal(t, cfg, "b"), readTotal(t, cfg, "c"); a != "10" || b != "13" || c != "1" {
		t.Fatalf("totals %s %s %s", a, b, c)
	}
	m, err := ReadManifest(filepath.Join(cfg.RunDir(), "b"))
	if err != nil || m.Status != "done" || len(m.Artifacts) != 3 || m.Inputs["a"] == "" {
		t.Fatalf("manifest of b: %+v %v", m, err)
	}

	// Everything done: nothing runs.
	resetHooks()
	if err := Run(ctx, cfg, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(executed) != 0 {
		t.Fatalf("done stages ran again: %v", executed)
	}

	// --force a re-runs a only (its output is the same, so b stays valid).
	if err := Run(ctx, cfg, RunOptions{Force: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(executed, map[string][]int{"a": {1, 2, 3, 4}}) {
		t.Fatalf("--force a executed %v", executed)
	}

	// A changed upstream re-runs it and its dependant; a stage killed mid-way resumes from its checkpoint.
	resetHooks()
	cfg = mustLoad(t, path, "stages.a.steps=6")
	failAt["a"] = 5
	err = Run(ctx, cfg, RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "stage a: killed") {
		t.Fatalf("want the injected failure, got %v", err)
	}
	plans, _ := Plan(cfg)
	if plans[0].State != Partial || plans[0].Progress.Step != 4 || plans[1].State != Stale || plans[2].State != Done {
		t.Fatalf("states after kill: %s %s %s", plans[0].Describe(), plans[1].State, plans[2].State)
	}
	if readTotal(t, cfg, "a") != "10" {
		t.Fatal("the previous good output of a was lost")
	}
	delete(failAt, "a")
	executed = map[string][]int{}
	if err := Run(ctx, cfg, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(executed, map[string][]int{"a": {5, 6}, "b": {1, 2}}) {
		t.Fatalf("resume executed %v, want a from step 5 and b again", executed)
	}
	if readTotal(t, cfg, "a") != "21" || readTotal(t, cfg, "b") != "24" {
		t.Fatalf("totals after resume: %s %s", readTotal(t, cfg, "a"), readTotal(t, cfg, "b"))
	}
	// metrics.jsonl holds each step once, as an uninterrupted run would.
	b, _ := os.ReadFile(filepath.Join(cfg.RunDir(), "a", "metrics.jsonl"))
	if strings.Count(string(b), "\n") != 6 || !strings.Contains(string(b), `{"step":6,"sum":21}`) {
		t.Fatalf("metrics after resume:\n%s", b)
	}

	// --only and --from.
	resetHooks()
	if err := Run(ctx, cfg, RunOptions{Only: "b", Force: []string{"b"}}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(executed, map[string][]int{"b": {1, 2}}) {
		t.Fatalf("--only b executed %v", executed)
	}
	resetHooks()
	if err := Run(ctx, cfg, RunOptions{From: "b"}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(executed, map[string][]int{"b": {1, 2}, "c": {1}}) {
		t.Fatalf("--from b executed %v", executed)
	}
	resetHooks()
	if err := Run(ctx, cfg, RunOptions{From: "a", Until: "b"}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(executed, map[string][]int{"a": {1, 2, 3, 4, 5, 6}, "b": {1, 2}}) {
		t.Fatalf("--from a --until b executed %v", executed)
	}
	for _, bad := range []RunOptions{{Until: "nope"}, {Until: "a", Only: "a"}, {From: "c", Until: "a"}} {
		if err := Run(ctx, cfg, bad); !errors.Is(err, ErrUsage) {
			t.Errorf("%+v: got %v, want a usage error", bad, err)
		}
	}
}

func TestOnlyNeedsFinishedInputs(t *testing.T) {
	resetHooks()
	cfg := mustLoad(t, writeConfig(t, t.TempDir(), goodConfig))
	err := Run(context.Background(), cfg, RunOptions{Only: "b"})
	if err == nil || !strings.Contains(err.Error(), "needs stage a, which is not done") {
		t.Fatalf("got %v", err)
	}
}

func TestCancelledRunSaysHowToResume(t *testing.T) {
	resetHooks()
	cfg := mustLoad(t, writeConfig(t, t.TempDir(), goodConfig))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Run(ctx, cfg, RunOptions{})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("got %v", err)
	}
}

// A crash between the two renames of a stage replacement leaves <stage>.old; the next run restores it.
func TestRecoverInterruptedReplace(t *testing.T) {
	resetHooks()
	cfg := mustLoad(t, writeConfig(t, t.TempDir(), goodConfig))
	if err := Run(context.Background(), cfg, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cfg.RunDir(), "c")
	os.Rename(dir, dir+".old")
	resetHooks()
	if err := Run(context.Background(), cfg, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(executed) != 0 || readTotal(t, cfg, "c") != "1" {
		t.Fatalf("executed %v after recovering", executed)
	}
}

var timeZero = mustTime("2001-02-03T04:05:06Z")

// A finished stage whose file was truncated or deleted is stale, and the next run makes it again.
func TestDamagedStageRunsAgain(t *testing.T) {
	resetHooks()
	cfg := mustLoad(t, writeConfig(t, t.TempDir(), goodConfig))
	if err := Run(context.Background(), cfg, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(cfg.RunDir(), "c", "total.txt"), nil, 0o644)
	plans, _ := Plan(cfg)
	if got := plans[2].Describe(); got != "stale (total.txt has 0 bytes, the manifest says 2)" {
		t.Fatalf("status of the damaged stage: %q", got)
	}
	resetHooks()
	if err := Run(context.Background(), cfg, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(executed, map[string][]int{"c": {1}}) || readTotal(t, cfg, "c") != "1" {
		t.Fatalf("executed %v", executed)
	}
}

// An interrupted stage whose config changed starts over, and says that it threw the partial work away.
func TestChangedConfigDiscardsPartialLoudly(t *testing.T) {
	resetHooks()
	path := writeConfig(t, t.TempDir(), goodConfig)
	failAt["a"] = 3
	if err := Run(context.Background(), mustLoad(t, path), RunOptions{}); err == nil {
		t.Fatal("want the injected failure")
	}
	resetHooks()
	var out strings.Builder
	if err := Run(context.Background(), mustLoad(t, path, "stages.a.note=changed"), RunOptions{Out: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "discarding the interrupted run") || !reflect.DeepEqual(executed["a"], []int{1, 2, 3, 4}) {
		t.Fatalf("executed %v, output:\n%s", executed, out.String())
	}
}

// A resumed stage's seconds are its work: the earlier attempt's up to the checkpoint it resumed from
// (as progress.json recorded it) plus the last attempt's, not the wall time since the first start; the
// log says both, and the manifest keeps the first attempt's start.
func TestResumedStageCountsItsWorkNotTheGap(t *testing.T) {
	resetHooks()
	path := writeConfig(t, t.TempDir(), goodConfig)
	cfg := mustLoad(t, path, "stages.a.steps=6")
	ctx := context.Background()
	failAt["a"] = 5
	if err := Run(ctx, cfg, RunOptions{Only: "a"}); err == nil {
		t.Fatal("want the injected failure")
	}
	work := filepath.Join(cfg.RunDir(), "a.partial")
	var prog Progress
	var part partialState
	if err := readJSON(filepath.Join(work, progressFile), &prog); err != nil || prog.Step != 4 || !(prog.Seconds > 0 && prog.Seconds < 60) {
		t.Fatalf("progress after the kill: %+v, %v", prog, err)
	}
	if err := readJSON(filepath.Join(work, partialFile), &part); err != nil {
		t.Fatal(err)
	}
	// As if the first attempt had worked 1,000 s up to its checkpoint and the machine then stayed off.
	prog.Seconds = 1000
	if err := writeJSON(filepath.Join(work, progressFile), prog); err != nil {
		t.Fatal(err)
	}

	resetHooks()
	var log strings.Builder
	if err := Run(ctx, cfg, RunOptions{Only: "a", Out: &log}); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(filepath.Join(cfg.RunDir(), "a"))
	if err != nil {
		t.Fatal(err)
	}
	if !(m.Seconds >= 1000 && m.Seconds < 1060) || !m.Started.Equal(part.Started) {
		t.Errorf("manifest: seconds %v (want 1,000 and this attempt's), started %v (want %v)", m.Seconds, m.Started, part.Started)
	}
	if !strings.Contains(log.String(), "a            done in 16m40") || !strings.Contains(log.String(), " of work (resumed; ") {
		t.Errorf("log:\n%s", log.String())
	}

	// Never interrupted: the wall time of its one attempt, and no word of resuming.
	resetHooks()
	log.Reset()
	if err := Run(ctx, cfg, RunOptions{Force: []string{"a"}, Only: "a", Out: &log}); err != nil {
		t.Fatal(err)
	}
	if m, err = ReadManifest(filepath.Join(cfg.RunDir(), "a")); err != nil || !(m.Seconds < 60) || strings.Contains(log.String(), "resumed") {
		t.Errorf("an uninterrupted run: seconds %v (%v), log:\n%s", m.Seconds, err, log.String())
	}
}

// An interrupted --force run, run again as the error message says, resumes from its checkpoint and ends
// where an uninterrupted forced run would; it does not throw the finished steps away.
func TestInterruptedForcedRunResumes(t *testing.T) {
	resetHooks()
	path := writeConfig(t, t.TempDir(), goodConfig)
	cfg := mustLoad(t, path)
	ctx := context.Background()
	if err := Run(ctx, cfg, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	resetHooks()
	failAt["a"] = 3
	if err := Run(ctx, cfg, RunOptions{Force: []string{"a"}}); err == nil || !strings.Contains(err.Error(), "stage a: killed") {
		t.Fatalf("want the injected failure, got %v", err)
	}
	resetHooks()
	var log strings.Builder
	if err := Run(ctx, cfg, RunOptions{Force: []string{"a"}, Out: &log}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(executed, map[string][]int{"a": {3, 4}}) {
		t.Errorf("the forced run again executed %v, want a's steps 3 and 4 only", executed)
	}
	want := "a            resuming: partial (step 2 of 4)\na            (the interrupted forced run; delete " +
		filepath.Join(cfg.RunDir(), "a.partial") + " to start it over)\n"
	if !strings.HasPrefix(log.String(), want) {
		t.Errorf("log:\n%s\nwant it to start with:\n%s", log.String(), want)
	}
	if readTotal(t, cfg, "a") != "10" {
		t.Errorf("a's total %s, want 10", readTotal(t, cfg, "a"))
	}
}

// Running is true while a run holds the run directory's lock, and false before any run and after one.
func TestRunningWhileTheLockIsHeld(t *testing.T) {
	cfg := mustLoad(t, writeConfig(t, t.TempDir(), goodConfig))
	if Running(cfg) {
		t.Fatal("running before any run")
	}
	if err := os.MkdirAll(cfg.RunDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	unlock, err := lockDir(cfg.RunDir())
	if err != nil {
		t.Fatal(err)
	}
	if !Running(cfg) {
		t.Error("not running while the lock is held")
	}
	unlock()
	if Running(cfg) {
		t.Error("running after the lock was released")
	}
}
