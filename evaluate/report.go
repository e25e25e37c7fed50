package evaluate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"pipeline/atomicfile"
)

// Score is the accuracy of one checkpoint on one task under one prompting, with its 95% Wilson score
// interval (see Proportion); Norm is acc_norm, for multiple choice only.
type Score struct {
	N       int     `json:"n"`
	Correct int     `json:"correct"`
	Acc     float64 `json:"acc"`
	CILow   float64 `json:"ci_low"`
	CIHigh  float64 `json:"ci_high"`
	Norm    *Score  `json:"acc_norm,omitempty"`
}

func newScore(k, n int) (Score, error) {
	p, err := NewProportion(k, n)
	if err != nil {
		return Score{}, err
	}
	return Score{N: n, Correct: k, Acc: p.Mean, CILow: p.Low, CIHigh: p.High}, nil
}

// Report holds every result of an eval run. In report.json:
//
//	{"checkpoints": ["pretrain", "sft"],
//	 "scores": {"sft": {"arithmetic": {"0-shot": {"n": 200, "correct": 124, "acc": 0.62, "ci_low": ..., "ci_high": ...}}}},
//	 "text": {"sft": {"bits_per_byte": 1.21, ...}}}
//
// Checkpoints is the order of the report's rows, the order checkpoints were first added; the maps are
// written with sorted keys, so the same results give the same bytes.
type Report struct {
	Checkpoints []string                               `json:"checkpoints"`
	Scores      map[string]map[string]map[string]Score `json:"scores"`
	Text        map[string]TextScore                   `json:"text,omitempty"`
}

// Add records checkpoint's score on task under prompting (a Prompting's Name), replacing any earlier one.
func (r *Report) Add(checkpoint, task, prompting string, s Score) {
	r.addCheckpoint(checkpoint)
	if r.Scores == nil {
		r.Scores = map[string]map[string]map[string]Score{}
	}
	if r.Scores[checkpoint] == nil {
		r.Scores[checkpoint] = map[string]map[string]Score{}
	}
	if r.Scores[checkpoint][task] == nil {
		r.Scores[checkpoint][task] = map[string]Score{}
	}
	r.Scores[checkpoint][task][prompting] = s
}

// AddText records checkpoint's score on held-out text.
func (r *Report) AddText(checkpoint string, s TextScore) {
	r.addCheckpoint(checkpoint)
	if r.Text == nil {
		r.Text = map[string]TextScore{}
	}
	r.Text[checkpoint] = s
}

func (r *Report) addCheckpoint(name string) {
	for _, c := range r.Checkpoints {
		if c == name {
			return
		}
	}
	r.Checkpoints = append(r.Checkpoints, name)
}

// Write writes report.json, report.md and, when there are task scores, report.png (Chart) into dir.
func (r *Report) Write(dir string) error {
	if len(r.Checkpoints) == 0 {
		return fmt.Errorf("evaluate: empty report for %s", dir)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "report.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "report.md"), []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	if len(r.columns()) == 0 {
		return nil
	}
	return r.Chart(filepath.Join(dir, "report.png"))
}
