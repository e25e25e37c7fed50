package evaluate

import (
	"bytes"
	"encoding/json"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/report.md")

// logs makes n item logs of which the first k are correct; with norm, the first kNorm have acc_norm right.
func logs(k, n int, norm bool, kNorm int) []ItemLog {
	out := make([]ItemLog, n)
	for i := range out {
		out[i].Correct = i < k
		if norm {
			c := i < kNorm
			out[i].CorrectNorm = &c
		}
	}
	return out
}

func tally(t *testing.T, l []ItemLog) Score {
	t.Helper()
	s, err := Tally(l)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixedReport has two checkpoints added sft first, prompting names that sort wrong as plain strings
// (10-shot, 2-shot), a cell dpo lacks, a multiple-choice task with acc_norm and held-out text for sft.
func fixedReport(t *testing.T) *Report {
	var r Report
	r.Add("sft", "arithmetic", "0-shot", tally(t, logs(8, 10, false, 0)))
	r.Add("sft", "arithmetic", "10-shot", tally(t, logs(9, 10, false, 0)))
	r.Add("sft", "arithmetic", "2-shot", tally(t, logs(5, 10, false, 0)))
	r.Add("sft", "verse_choice", "0-shot", tally(t, logs(1, 4, true, 3)))
	r.Add("dpo", "arithmetic", "0-shot", tally(t, logs(10, 10, false, 0)))
	r.Add("dpo", "arithmetic", "2-shot", tally(t, logs(0, 10, false, 0)))
	r.Add("dpo", "verse_choice", "0-shot", tally(t, logs(2, 4, true, 2)))
	r.Add("dpo", "arithmetic", "cot-0-shot", tally(t, logs(1, 2, false, 0)))
	r.AddText("sft", TextScore{Docs: 1, Tokens: 7, Words: 2, Bytes: 7, NLL: 9 * 0.6931471805599453,
		TokenPerplexity: 2.4380, WordPerplexity: 22.627, BytePerplexity: 2.4380, BitsPerByte: 9.0 / 7})
	return &r
}

// TestReportMarkdownGolden: the cells are hand-checked against TestWilsonByHand: 8/10 is
// "0.80 [0.49, 0.94] (n=10)", 0/10 "0.00 [0.00, 0.28] (n=10)", 10/10 "1.00 [0.72, 1.00] (n=10)",
// 1/2 "0.50 [0.09, 0.91] (n=2)".
func TestReportMarkdownGolden(t *testing.T) {
	dir := t.TempDir()
	r := fixedReport(t)
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.md")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report.md differs from %s:\n%s", golden, got)
	}
	for _, cell := range []string{"| sft | 0.80 [0.49, 0.94] (n=10) | 0.50 [0.24, 0.76] (n=10) | 0.90 [0.60, 0.98] (n=10) | – |",
		"| dpo | 1.00 [0.72, 1.00] (n=10) | 0.00 [0.00, 0.28] (n=10) | – | 0.50 [0.09, 0.91] (n=2) |"} {
		if !strings.Contains(string(got), cell) {
			t.Errorf("report.md lacks the row prefix %q", cell)
		}
	}
}

// TestReportJSON: the documented shape, sorted keys, the same bytes from the same results, and a PNG.
func TestReportJSON(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := fixedReport(t).Write(a); err != nil {
		t.Fatal(err)
	}
	if err := fixedReport(t).Write(b); err != nil {
		t.Fatal(err)
	}
	ja, _ := os.ReadFile(filepath.Join(a, "report.json"))
	jb, _ := os.ReadFile(filepath.Join(b, "report.json"))
	if len(ja) == 0 || !bytes.Equal(ja, jb) {
		t.Fatal("report.json differs between two writes of the same results")
	}
	var back struct {
		Checkpoints []string
		Scores      map[string]map[string]map[string]map[string]any
	}
	if err := json.Unmarshal(ja, &back); err != nil {
		t.Fatal(err)
	}
	cell := back.Scores["sft"]["verse_choice"]["0-shot"]
	norm, _ := cell["acc_norm"].(map[string]any)
	if strings.Join(back.Checkpoints, ",") != "sft,dpo" || cell["n"] != 4.0 || cell["correct"] != 1.0 || cell["acc"] != 0.25 ||
		norm["correct"] != 3.0 || norm["acc"] != 0.75 {
		t.Errorf("report.json: checkpoints %v, verse_choice cell %v", back.Checkpoints, cell)
	}
	if _, ok := back.Scores["sft"]["arithmetic"]["0-shot"]["acc_norm"]; ok {
		t.Error("a generation task has acc_norm")
	}
	if i, j := bytes.Index(ja, []byte(`"dpo": {`)), bytes.Index(ja, []byte(`"sft": {`)); i < 0 || j < i {
		t.Error("report.json's scores are not in sorted key order")
	}
	f, err := os.Open(filepath.Join(a, "report.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatal(err)
	}
}

// TestReportTextOnly: held-out text alone makes no accuracy table and no chart.
func TestReportTextOnly(t *testing.T) {
	dir := t.TempDir()
	var r Report
	r.AddText("pretrain", TextScore{Tokens: 4, Bytes: 8, BitsPerByte: 1.5, BytePerplexity: 2.828, TokenPerplexity: 8, WordPerplexity: 64})
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !strings.Contains(string(md), "| pretrain | 1.5000 | 2.828 | 8.00 | 64.00 | 4 | 8 |") || strings.Contains(string(md), "Wilson") {
		t.Errorf("report.md:\n%s", md)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.png")); !os.IsNotExist(err) {
		t.Errorf("a chart with no bars: %v", err)
	}
	if err := (&Report{}).Write(dir); err == nil {
		t.Error("an empty report written")
	}
}

func TestTally(t *testing.T) {
	s := tally(t, logs(1, 4, true, 3))
	if s.N != 4 || s.Correct != 1 || s.Acc != 0.25 || s.Norm == nil || s.Norm.Correct != 3 || s.Norm.Acc != 0.75 || s.Norm.Norm != nil {
		t.Errorf("tally %+v", s)
	}
	mixed := append(logs(1, 2, true, 1), logs(1, 1, false, 0)...)
	if _, err := Tally(mixed); err == nil {
		t.Error("items with and without acc_norm tallied together")
	}
	if _, err := Tally(nil); err == nil {
		t.Error("no items tallied")
	}
}

// TestItemLogs writes one line of each kind and checks its exact JSON.
func TestItemLogs(t *testing.T) {
	path := ItemLogPath(t.TempDir(), "sft", "verse_choice", "0-shot")
	if !strings.HasSuffix(path, filepath.Join("items", "sft", "verse_choice", "0-shot.jsonl")) {
		t.Fatalf("path %s", path)
	}
	gen := GeneratedLog(sum, "Question: What is 347 + 589?\nAnswer:", Generated{Output: " 936", Extracted: "936", Matched: true, Correct: true})
	mc := ChoicesLog(verse, "Jesus wept.", Choices{LogLikelihoods: []float64{-1.5, -20}, Pred: 0, PredNorm: 1, CorrectNorm: true})
	if err := WriteItemLogs(path, []ItemLog{gen, mc}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"arithmetic-eval-000000","prompt":"Question: What is 347 + 589?\nAnswer:","output":" 936","extracted":"936","answer":"936","correct":true}
{"id":"verse_choice-eval-000000","prompt":"Jesus wept.","output":" Amen.","extracted":" Amen.","answer":" Then said the Jews, Behold how he loved him!","correct":false,"loglikelihoods":[-1.5,-20],"pred_norm":1,"correct_norm":true}
`
	if string(got) != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}

func TestNaturalCompare(t *testing.T) {
	in := []string{"cot-0-shot", "10-shot", "2-shot", "0-shot", "cot-10-shot", "cot-2-shot"}
	want := "0-shot 2-shot 10-shot cot-0-shot cot-2-shot cot-10-shot"
	r := Report{Scores: map[string]map[string]map[string]Score{"c": {"t": {}}}}
	for _, m := range in {
		r.Scores["c"]["t"][m] = Score{}
	}
	var names []string
	for _, c := range r.columns() {
		names = append(names, c.prompting)
	}
	if strings.Join(names, " ") != want {
		t.Errorf("order %v, want %s", names, want)
	}
}
