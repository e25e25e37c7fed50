package evaluate

import (
	"fmt"
	"os"
	"path/filepath"

	"pipeline/tasks"
)

// ItemLog is one scored item, one line of a per-item log: what the model was given, what it answered,
// what was compared with the target, and whether it was right.
//
// For a generation item Output is the generated text and Extracted the normalised answer pulled out of
// it. For a multiple-choice item Output and Extracted are both the choice acc picks, and the log also has
// every choice's log-likelihood, the choice acc_norm picks and whether that one is right.
type ItemLog struct {
	ID             string    `json:"id"`
	Prompt         string    `json:"prompt"`
	Output         string    `json:"output"`
	Extracted      string    `json:"extracted"`
	Answer         string    `json:"answer"`
	Correct        bool      `json:"correct"`
	LogLikelihoods []float64 `json:"loglikelihoods,omitempty"`
	PredNorm       *int      `json:"pred_norm,omitempty"`
	CorrectNorm    *bool     `json:"correct_norm,omitempty"`
}

// GeneratedLog is the log line of a generation item.
func GeneratedLog(it tasks.Item, prompt string, g Generated) ItemLog {
	return ItemLog{ID: it.ID, Prompt: prompt, Output: g.Output, Extracted: g.Extracted, Answer: Normalize(it.Answer), Correct: g.Correct}
}

// ChoicesLog is the log line of a multiple-choice item.
func ChoicesLog(it tasks.Item, prompt string, c Choices) ItemLog {
	return ItemLog{ID: it.ID, Prompt: prompt, Output: it.Choices[c.Pred], Extracted: it.Choices[c.Pred],
		Answer: it.Choices[it.Gold], Correct: c.Correct, LogLikelihoods: c.LogLikelihoods,
		PredNorm: &c.PredNorm, CorrectNorm: &c.CorrectNorm}
}

// ItemLogPath is where the log of one checkpoint, task and prompting goes under an eval directory:
// items/<checkpoint>/<task>/<prompting>.jsonl.
func ItemLogPath(dir, checkpoint, task, prompting string) string {
	return filepath.Join(dir, "items", checkpoint, task, prompting+".jsonl")
}

// WriteItemLogs writes logs to path as JSON lines, in the order given, creating its directory.
func WriteItemLogs(path string, logs []ItemLog) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return tasks.WriteJSONL(path, logs)
}

// Tally is the Score of a set of logged items: acc over Correct, and acc_norm over CorrectNorm when the
// items are multiple choice (every item must then have it).
func Tally(logs []ItemLog) (Score, error) {
	var k, kNorm, nNorm int
	for _, l := range logs {
		if l.Correct {
			k++
		}
		if l.CorrectNorm != nil {
			nNorm++
			if *l.CorrectNorm {
				kNorm++
			}
		}
	}
	s, err := newScore(k, len(logs))
	if err != nil {
		return Score{}, err
	}
	switch nNorm {
	case 0:
	case len(logs):
		norm, err := newScore(kNorm, nNorm)
		if err != nil {
			return Score{}, err
		}
		s.Norm = &norm
	default:
		return Score{}, fmt.Errorf("evaluate: %d of %d items have acc_norm", nNorm, len(logs))
	}
	return s, nil
}
