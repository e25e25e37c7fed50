package tasks

import (
	"bufio"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"pipeline/atomicfile"
)

// The rows of the training files, in TRL's field names.
type (
	sftRow struct {
		Prompt     string `json:"prompt"`
		Completion string `json:"completion"`
	}
	prefRow struct {
		Prompt   string `json:"prompt"`
		Chosen   string `json:"chosen"`
		Rejected string `json:"rejected"`
	}
	// promptRow is a PPO prompt; a rollout is right when Pattern extracts Answer from it (see Extractor).
	// Answer is the number for arithmetic, the verse's last words for verse_continue, and for
	// verse_choice the first continue_words words of the next verse.
	promptRow struct {
		Prompt  string `json:"prompt"`
		Answer  string `json:"answer"`
		Pattern string `json:"pattern"`
	}
)

// Write writes the data under dir:
//
//	<task>/train.jsonl, eval.jsonl, fewshot.jsonl  Items, one split each
//	<task>/sft.jsonl                                {"prompt","completion"} of the train split
//	<task>/prefs_train.jsonl, prefs_eval.jsonl      {"prompt","chosen","rejected"} of the train and eval splits
//	<task>/prompts.jsonl                            {"prompt","answer","pattern"} of the train split, for PPO
//	sft.jsonl, prefs_train.jsonl, prefs_eval.jsonl, prompts.jsonl
//	                                                the same rows of every task, shuffled together
//
// Each file is written atomically; equal data gives equal bytes.
func (d *Data) Write(dir string) error {
	var sft []sftRow
	var prefsTrain, prefsEval []prefRow
	var prompts []promptRow
	for _, s := range d.sets {
		sub := filepath.Join(dir, s.task)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		for _, split := range []struct {
			name string
			exs  []example
		}{{SplitTrain, s.train}, {SplitEval, s.eval}, {SplitFewShot, s.fewshot}} {
			items := make([]Item, len(split.exs))
			for i, ex := range split.exs {
				items[i] = ex.item
			}
			if err := WriteJSONL(filepath.Join(sub, split.name+".jsonl"), items); err != nil {
				return err
			}
		}
		ts, tp, ep, pr := sftRows(s.train), prefRows(s.train), prefRows(s.eval), promptRows(s.train)
		if err := writeAll(sub, ts, tp, ep, pr); err != nil {
			return err
		}
		sft, prefsTrain, prefsEval = append(sft, ts...), append(prefsTrain, tp...), append(prefsEval, ep...)
		prompts = append(prompts, pr...)
	}
	rng := rand.New(rand.NewPCG(d.seed, streamOf("mix")))
	shuffle(rng, sft)
	shuffle(rng, prefsTrain)
	shuffle(rng, prefsEval)
	shuffle(rng, prompts)
	return writeAll(dir, sft, prefsTrain, prefsEval, prompts)
}

func writeAll(dir string, sft []sftRow, prefsTrain, prefsEval []prefRow, prompts []promptRow) error {
	if err := WriteJSONL(filepath.Join(dir, "sft.jsonl"), sft); err != nil {
		return err
	}
	if err := WriteJSONL(filepath.Join(dir, "prefs_train.jsonl"), prefsTrain); err != nil {
		return err
	}
	if err := WriteJSONL(filepath.Join(dir, "prefs_eval.jsonl"), prefsEval); err != nil {
		return err
	}
	return WriteJSONL(filepath.Join(dir, "prompts.jsonl"), prompts)
}

func sftRows(exs []example) []sftRow {
	out := make([]sftRow, len(exs))
	for i, ex := range exs {
		out[i] = sftRow{Prompt(ex.item, ex.style), Completion(ex.item, ex.style)}
	}
	return out
}

func prefRows(exs []example) []prefRow {
	out := make([]prefRow, len(exs))
	for i, ex := range exs {
		out[i] = prefRow{Prompt(ex.item, ex.style), Completion(ex.item, ex.style), ex.rejected}
	}
	return out
}

func promptRows(exs []example) []promptRow {
	out := make([]promptRow, len(exs))
	for i, ex := range exs {
		out[i] = promptRow{Prompt(ex.item, ex.style), ex.target, AnswerPattern(ex.item.Task, ex.target, ex.style)}
	}
	return out
}

func shuffle[T any](rng *rand.Rand, rows []T) {
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
}

// WriteJSONL writes rows to path atomically, one JSON object a line, with <, > and & left as they are.
func WriteJSONL[T any](path string, rows []T) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
}
