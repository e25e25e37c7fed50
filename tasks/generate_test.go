package tasks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var kjvVerses []Verse // parsed once for the tests that need the corpus

func kjv(t *testing.T) []Verse {
	t.Helper()
	if kjvVerses == nil {
		vs, err := ParseKJVFile(corpusPath(t, "kjv.txt"))
		if err != nil {
			t.Fatal(err)
		}
		kjvVerses = vs
	}
	return kjvVerses
}

func testConfig(t *testing.T) Config {
	return Config{Tasks: Names, Train: 300, Eval: 60, FewShot: 8, MinDigits: 2, MaxDigits: 3, Choices: 4,
		ContinueWords: 3, MaxVerseWords: 30, WorkedFraction: 0.5, Seed: 1337, Verses: kjv(t)}
}

func build(t *testing.T, cfg Config) string {
	t.Helper()
	d, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := d.Write(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// readJSONL decodes every line of path into a T, failing on unknown fields.
func readJSONL[T any](t *testing.T, path string) []T {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v T
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v in %s", path, err, sc.Text())
		}
		out = append(out, v)
	}
	return out
}

// keys is the set of field-name lists of the lines of path, each list sorted and joined by commas.
func keys(t *testing.T, path string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range readJSONL[map[string]json.RawMessage](t, path) {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		seen[strings.Join(ks, ",")] = true
	}
	return seen
}

// TestOutput builds the test config once and checks what was written.
func TestOutput(t *testing.T) {
	dir := build(t, testConfig(t))
	t.Run("deterministic", func(t *testing.T) { checkDeterministic(t, dir) })
	t.Run("disjoint", func(t *testing.T) { checkDisjoint(t, dir) })
	t.Run("field names", func(t *testing.T) { checkFieldNames(t, dir) })
	t.Run("prefs wrong", func(t *testing.T) { checkPrefsWrong(t, dir) })
	t.Run("verse gold", func(t *testing.T) { checkVerseGold(t, dir) })
}

// Same config, same bytes; another seed, other bytes.
func checkDeterministic(t *testing.T, a string) {
	b := build(t, testConfig(t))
	other := testConfig(t)
	other.Seed++
	c := build(t, other)
	var n int
	err := filepath.WalkDir(a, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, path)
		x, _ := os.ReadFile(path)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with one seed", rel)
		}
		if z, _ := os.ReadFile(filepath.Join(c, rel)); bytes.Equal(x, z) {
			t.Errorf("%s is the same under another seed", rel)
		}
		n++
		return nil
	})
	if err != nil || n != 3*7+4 {
		t.Errorf("walked %d files (%v), want 25", n, err)
	}
}

// No question is in two splits, nor, for arithmetic, in one split commuted and in another as asked.
func checkDisjoint(t *testing.T, dir string) {
	for _, task := range Names {
		owner := map[string]string{} // question -> split
		for _, split := range []string{SplitTrain, SplitEval, SplitFewShot} {
			items := readJSONL[Item](t, filepath.Join(dir, task, split+".jsonl"))
			want := map[string]int{SplitTrain: 300, SplitEval: 60, SplitFewShot: 8}[split]
			if len(items) != want {
				t.Errorf("%s %s: %d items, want %d", task, split, len(items), want)
			}
			for _, it := range items {
				if prev, ok := owner[it.Question]; ok {
					t.Errorf("%s: %q is in %s and %s", task, it.Question, prev, split)
				}
				owner[it.Question] = split
				if task == Arithmetic { // 347 + 589 and 589 + 347 are one problem
					f := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(it.Question, "What is "), "?"))
					if f[1] == "+" {
						if prev, ok := owner["What is "+f[2]+" + "+f[0]+"?"]; ok && f[0] != f[2] {
							t.Errorf("%s: %q is in %s commuted", task, it.Question, prev)
						}
					}
				}
			}
		}
	}
	// Verse splits share no chapter either.
	for _, task := range []string{VerseChoice, VerseContinue} {
		owner := map[string]string{}
		for _, split := range []string{SplitTrain, SplitEval, SplitFewShot} {
			for _, it := range readJSONL[Item](t, filepath.Join(dir, task, split+".jsonl")) {
				ch := it.Ref[:strings.LastIndex(it.Ref, ":")]
				if prev, ok := owner[ch]; ok && prev != split {
					t.Errorf("%s: chapter %s is in %s and %s", task, ch, prev, split)
				}
				owner[ch] = split
			}
		}
	}
}

// The training files carry exactly TRL's field names.
func checkFieldNames(t *testing.T, dir string) {
	for _, sub := range append([]string{""}, Names...) {
		for file, want := range map[string]string{
			"sft.jsonl": "completion,prompt", "prefs_train.jsonl": "chosen,prompt,rejected",
			"prefs_eval.jsonl": "chosen,prompt,rejected", "prompts.jsonl": "answer,pattern,prompt",
		} {
			got := keys(t, filepath.Join(dir, sub, file))
			if len(got) != 1 || !got[want] {
				t.Errorf("%s/%s: fields %v, want %s", sub, file, got, want)
			}
		}
	}
	if got := keys(t, filepath.Join(dir, VerseChoice, "eval.jsonl")); len(got) != 1 || !got["choices,gold,id,question,ref,task"] {
		t.Errorf("verse_choice items: fields %v", got)
	}
}

// Preference pairs reject a wrong answer: for arithmetic one whose extracted number differs.
func checkPrefsWrong(t *testing.T, dir string) {
	direct, _ := NewExtractor(DirectPattern)
	worked, _ := NewExtractor(WorkedPattern)
	styles := map[Style]int{}
	for _, task := range Names {
		for _, p := range readJSONL[prefRow](t, filepath.Join(dir, task, "prefs_train.jsonl")) {
			if p.Chosen == p.Rejected || !strings.HasPrefix(p.Rejected, " ") {
				t.Errorf("%s: rejected %q for chosen %q", task, p.Rejected, p.Chosen)
			}
			if task != Arithmetic {
				continue
			}
			e, s := direct, Direct
			if strings.HasSuffix(p.Prompt, CoTTrigger) {
				e, s = worked, Worked
			}
			styles[s]++
			right, ok1 := e.Extract(p.Chosen)
			wrong, ok2 := e.Extract(p.Rejected)
			if !ok1 || !ok2 || right == wrong {
				t.Errorf("arithmetic: chosen %q (%q) rejected %q (%q)", p.Chosen, right, p.Rejected, wrong)
			}
		}
	}
	if styles[Direct] < 100 || styles[Worked] < 100 {
		t.Errorf("styles %v, want about half each of 300", styles)
	}
}

// Each verse_choice item's gold choice is the verse after its question in the corpus; a PPO prompt's
// answer is extracted from the gold completion by its own pattern.
func checkVerseGold(t *testing.T, dir string) {
	next := map[string]string{}
	vs := kjv(t)
	for i := 0; i+1 < len(vs); i++ {
		next[vs[i].Ref()] = vs[i+1].Text
	}
	golds := map[int]int{}
	for _, it := range readJSONL[Item](t, filepath.Join(dir, VerseChoice, "eval.jsonl")) {
		if len(it.Choices) != 4 || it.Choices[it.Gold] != " "+next[it.Ref] {
			t.Errorf("%s: gold %d of %q, want %q", it.Ref, it.Gold, it.Choices, next[it.Ref])
		}
		for i, c := range it.Choices {
			if i != it.Gold && (c == it.Choices[it.Gold] || !strings.HasPrefix(c, " ")) {
				t.Errorf("%s: distractor %q", it.Ref, c)
			}
		}
		golds[it.Gold]++
	}
	if len(golds) != 4 {
		t.Errorf("gold positions %v, want all four used", golds)
	}
	sft := readJSONL[sftRow](t, filepath.Join(dir, VerseChoice, "sft.jsonl"))
	for i, p := range readJSONL[promptRow](t, filepath.Join(dir, VerseChoice, "prompts.jsonl")) {
		e, err := NewExtractor(p.Pattern)
		if err != nil || !e.Correct(sft[i].Completion, p.Answer) || len(strings.Fields(p.Answer)) != 3 {
			t.Errorf("prompt %q: pattern %q answer %q vs completion %q", p.Prompt, p.Pattern, p.Answer, sft[i].Completion)
		}
	}
}

func TestCheckNamesKeys(t *testing.T) {
	cfg := testConfig(t)
	cfg.Tasks = []string{Arithmetic, "sudoku", Arithmetic}
	cfg.Eval, cfg.FewShot, cfg.MinDigits, cfg.MaxDigits = 0, -1, 1, 1
	cfg.Choices, cfg.ContinueWords, cfg.MaxVerseWords, cfg.WorkedFraction = 1, 3, 5, 1.5
	var got []string
	cfg.Check(func(key, msg string) { got = append(got, key) })
	want := []string{"tasks", "tasks", "eval", "fewshot", "max_digits", "choices", "max_verse_words", "worked_fraction"}
	if !slices.Equal(got, want) {
		t.Errorf("reported %v, want %v", got, want)
	}
	if _, err := Build(cfg); err == nil {
		t.Error("Build accepted a bad config")
	}
}

// Asking for more tasks changes no task's own files.
func TestTasksAreIndependent(t *testing.T) {
	all := build(t, testConfig(t))
	for _, task := range Names {
		cfg := testConfig(t)
		cfg.Tasks = []string{task}
		one := build(t, cfg)
		for _, f := range []string{"train.jsonl", "eval.jsonl", "fewshot.jsonl", "sft.jsonl", "prefs_train.jsonl"} {
			a, _ := os.ReadFile(filepath.Join(all, task, f))
			b, err := os.ReadFile(filepath.Join(one, task, f))
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("%s/%s differs when generated alone (%v)", task, f, err)
			}
		}
	}
}

// EachText yields the right and the wrong text of every train and eval example, in order.
func TestEachText(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Tasks, cfg.Train, cfg.Eval, cfg.FewShot = []string{Arithmetic}, 3, 2, 1
	d, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ids, texts []string
	d.EachText(func(task, id, text string) {
		if task != Arithmetic {
			t.Errorf("task %q", task)
		}
		ids, texts = append(ids, id), append(texts, text)
	})
	want := []string{"arithmetic-train-000000", "arithmetic-train-000000", "arithmetic-train-000001",
		"arithmetic-train-000001", "arithmetic-train-000002", "arithmetic-train-000002",
		"arithmetic-eval-000000", "arithmetic-eval-000000", "arithmetic-eval-000001", "arithmetic-eval-000001"}
	if !slices.Equal(ids, want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	for i := 0; i < len(texts); i += 2 {
		var p Problem
		if _, err := fmt.Sscanf(texts[i], "Question: What is %d %c %d?", &p.A, &p.Op, &p.B); err != nil {
			t.Fatalf("%q: %v", texts[i], err)
		}
		prompt, _, _ := strings.Cut(texts[i], "\nAnswer:")
		right := strconv.Itoa(p.Answer())
		ends := func(s string) bool { return strings.HasSuffix(s, " "+right) || strings.HasSuffix(s, " "+right+".") }
		if !ends(texts[i]) || ends(texts[i+1]) || !strings.HasPrefix(texts[i+1], prompt+"\nAnswer:") {
			t.Errorf("%s: right %q, wrong %q", right, texts[i], texts[i+1])
		}
	}
}
