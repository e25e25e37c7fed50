package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func writeConfig(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "run.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const goodConfig = `run: test
seed: 1
out_dir: out
model: {n_layer: 2, n_head: 2, n_embd: 8, n_positions: 16}
stages:
  - name: a
    kind: count
    steps: 4
  - name: b
    kind: count
    steps: 2
    input: a
  - name: c
    kind: count
    steps: 1
`

func TestLoadGoodConfig(t *testing.T) {
	cfg, err := Load(writeConfig(t, t.TempDir(), goodConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Run != "test" || cfg.Seed != 1 || cfg.Model.NEmbd != 8 || cfg.Model.LayerNormEpsilon != 1e-5 {
		t.Fatalf("decoded %+v", cfg)
	}
	if got := cfg.Stages[1].Options.(*countOptions); got.Steps != 2 || got.Input != "a" {
		t.Fatalf("stage b options %+v", got)
	}
	if got := cfg.Stages[1].Inputs(); len(got) != 1 || got[0] != "a" {
		t.Fatalf("inputs of b: %v", got)
	}
}

// Every kind of decoding mistake is reported with its file, line and column, all in one pass.
func TestStrictDecodingErrors(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, `run: test
sed: 1
model: {n_layer: two, n_head: 2, n_embd: 8, n_positions: 16}
stages:
  - name: a
    kind: count
    stepz: 4
  - name: b
    kind: nosuchkind
  - kind: count
    steps: [1]
`)
	_, err := Load(path, nil)
	ps, ok := AsProblems(err)
	if !ok {
		t.Fatalf("want Problems, got %v", err)
	}
	want := []string{
		path + ":2:1: sed: unknown key; allowed keys: model, out_dir, run, seed, stages",
		path + `:3:18: model.n_layer: want an integer, got "two" (str)`,
		path + ":7:5: stages[0].stepz: unknown key; allowed keys: name, kind, data, input, keep_last, note, steps",
		path + `:5:5: stages[0]: missing required key "steps" (steps to count)`,
		path + `:9:11: stages[1].kind: unknown stage kind "nosuchkind"; kinds: count`,
		path + `:10:5: stages[2]: missing required key "name"`,
		path + ":11:12: stages[2].steps: want an integer, got a list",
	}
	got := strings.Split(ps.Error(), "\n")
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Errorf("problem %d:\n got %q\nwant %q", i, at(got, i), want[i])
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(got), len(want), ps.Error())
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "<none>"
}

// Three mistakes that only validation can see (sizes, references, files) are all listed with lines.
func TestValidateListsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, `run: test
model: {n_layer: 2, n_head: 3, n_embd: 8, n_positions: 16}
stages:
  - name: a
    kind: count
    steps: 1
    input: b
  - name: b
    kind: count
    steps: 0
    data: [missing-*.txt]
`)
	_, err := Load(path, nil)
	ps, _ := AsProblems(err)
	want := []string{
		path + ":2:32: model.n_embd: n_embd 8 is not divisible by n_head 3",
		path + `:7:5: stages[0].input: stage "b" runs after this one; inputs must come from earlier stages`,
		path + `:11:5: stages[1].data: no file matches "missing-*.txt" (relative paths are relative to ` + dir + ")",
		path + ":10:5: stages[1].steps: must be positive, got 0",
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i, p := range ps {
		if p.String() != want[i] {
			t.Errorf("problem %d:\n got %q\nwant %q", i, p.String(), want[i])
		}
	}
}

func TestSetOverrides(t *testing.T) {
	path := writeConfig(t, t.TempDir(), goodConfig)
	cfg, err := Load(path, []string{"seed=9", "model.n_layer=6", "stages.b.steps=7", "stages.c.note=hello world"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Seed != 9 || cfg.Model.NLayer != 6 || cfg.Stages[1].Options.(*countOptions).Steps != 7 ||
		cfg.Stages[2].Options.(*countOptions).Note != "hello world" {
		t.Fatalf("overrides not applied: %+v %+v", cfg, cfg.Stages[1].Options)
	}
	_, err = Load(path, []string{"stages.b.steps=many", "stages.b.stepz=1", "stages.zz.steps=1", "model.n_head=3"})
	ps, _ := AsProblems(err)
	want := []string{
		`--set stages.zz.steps=1: no stage named "zz" at stages`,
		`--set stages.b.steps=many: stages[1].steps: want an integer, got "many" (str)`,
		`--set stages.b.stepz=1: stages[1].stepz: unknown key; allowed keys: name, kind, data, input, keep_last, note, steps`,
		path + ":4:32: model.n_embd: n_embd 8 is not divisible by n_head 3",
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i, p := range ps {
		if p.String() != want[i] {
			t.Errorf("problem %d:\n got %q\nwant %q", i, p.String(), want[i])
		}
	}
}

// A problem with a value the file does not spell out (a default) points at its stage; an empty run name and
// names the runner uses itself are refused.
func TestValidateDefaultsAndReservedNames(t *testing.T) {
	path := writeConfig(t, t.TempDir(), `run: test
stages:
  - name: shards
    kind: count
    steps: 1
  - name: b.partial
    kind: count
    steps: 1
`)
	_, err := Load(path, []string{"run="})
	ps, _ := AsProblems(err)
	want := []string{
		`--set run=: run: must not be empty (name of the run; outputs go to <out_dir>/<run>/)`,
		path + `:3:5: stages[0].name: "shards" is reserved for the runner's own files (shards, *.partial, *.old, *.tmp)`,
		path + `:6:5: stages[1].name: "b.partial" is reserved for the runner's own files (shards, *.partial, *.old, *.tmp)`,
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i, p := range ps {
		if p.String() != want[i] {
			t.Errorf("problem %d:\n got %q\nwant %q", i, p.String(), want[i])
		}
	}
	d := newDecoder("f.yaml")
	stage := &yaml.Node{Line: 7, Column: 5}
	d.keys["stages[2]"] = stage
	if got := d.where(d.nearest("stages[2].lora.r")); got != "f.yaml:7:5" {
		t.Errorf("a default inside a stage is placed at %q, want the stage's f.yaml:7:5", got)
	}
}

func TestEmptyConfigSaysSo(t *testing.T) {
	empty := writeConfig(t, t.TempDir(), "# nothing but a comment\n")
	if _, err := Load(empty, nil); err == nil || !strings.Contains(err.Error(), "the config is empty") {
		t.Fatalf("empty config: %v", err)
	}
}

// A file option naming a directory, a path that does not exist or a glob that matches nothing (or matches a
// directory) is a config problem at its key, found before anything runs.
func TestFileOptionsMustNameFiles(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "corpus", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "corpus", "a.txt"), []byte("a"), 0o644)
	path := writeConfig(t, dir, `run: test
stages:
  - name: a
    kind: count
    steps: 1
    data: [corpus]
  - name: b
    kind: count
    steps: 1
    data:
      - corpus/a.txt
      - corpus/nosuch.txt
      - corpus/*.json
      - corpus/*
`)
	_, err := Load(path, nil)
	ps, _ := AsProblems(err)
	want := []string{
		path + `:6:5: stages[0].data: "corpus" is a directory; name the files in it (a glob such as "corpus/*" works)`,
		path + `:10:5: stages[1].data: "corpus/nosuch.txt" does not exist (relative paths are relative to ` + dir + ")",
		path + `:10:5: stages[1].data: no file matches "corpus/*.json" (relative paths are relative to ` + dir + ")",
		path + `:10:5: stages[1].data: "corpus/*" matches the directory ` + filepath.Join(dir, "corpus", "sub") + `; a file pattern must match files only`,
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i, p := range ps {
		if p.String() != want[i] {
			t.Errorf("problem %d:\n got %q\nwant %q", i, p.String(), want[i])
		}
	}
	// Plan (and so run and status) refuses the same config in the same words rather than failing to hash a
	// directory.
	cfg := &Config{Dir: dir, Stages: []*StageConfig{{Name: "a", Kind: "count", Options: &countOptions{Steps: 1, Data: []string{"corpus"}}}}}
	if _, err := Plan(cfg); err == nil || !strings.Contains(err.Error(), `stage a: data: "corpus" is a directory`) {
		t.Errorf("Plan on a directory: %v", err)
	}
}

// A value given by --set that a kind's own check refuses is reported at the flag, not at the line of
// the value it replaced.
func TestValidationProblemOfASetValueNamesTheFlag(t *testing.T) {
	path := writeConfig(t, t.TempDir(), goodConfig)
	_, err := Load(path, []string{"stages.b.steps=0"})
	ps, _ := AsProblems(err)
	want := "--set stages.b.steps=0: stages[1].steps: must be positive, got 0"
	if len(ps) != 1 || ps[0].String() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// A stage without a kind is one problem, at that stage; a stage that reads it gets no second one about
// its kind.
func TestStageWithoutKindIsOneProblem(t *testing.T) {
	path := writeConfig(t, t.TempDir(), `run: test
stages:
  - name: a
    steps: 1
  - name: b
    kind: count
    steps: 1
    input: a
`)
	_, err := Load(path, nil)
	ps, _ := AsProblems(err)
	want := path + `:3:5: stages[0]: missing required key "kind"; kinds: count`
	if len(ps) != 1 || !strings.HasPrefix(ps[0].String(), want) {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
