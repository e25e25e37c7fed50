package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"pipeline/graphs"
	"pipeline/textdata"
	"pipeline/tokenizer"
)

// rewardCheckpoint writes a reward model directory as the reward stage leaves it: the tokenizer and
// random model of generateCheckpoint with a head of std 1 (so that scores differ).
func rewardCheckpoint(t *testing.T) (string, *graphs.Config, *graphs.Params, *tokenizer.Tokenizer) {
	t.Helper()
	_, cfg, base, tok := generateCheckpoint(t)
	p, err := graphs.RewardParamsFrom(cfg, base, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	eot, _ := tok.SpecialID(tokenizer.EndOfText)
	if err := graphs.SaveReward(dir, cfg, p, eot); err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir, cfg, p, tok
}

func score(t *testing.T, dir, prompt, response string) float64 {
	t.Helper()
	var out bytes.Buffer
	if err := runScore(context.Background(), scoreOptions{Checkpoint: dir, Prompt: prompt, Response: response}, &out); err != nil {
		t.Fatal(err)
	}
	var got struct{ Score *float64 }
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got.Score == nil {
		t.Fatalf("output %q is not {\"score\": x}: %v", out.String(), err)
	}
	return *got.Score
}

// The printed score is the reward the stage's own batches give the pair's side: prompt + response +
// <|endoftext|>, padded with <|endoftext|> to the full context and read at Batch.Last.
func TestRunScoreMatchesTrainingBatches(t *testing.T) {
	dir, cfg, p, tok := rewardCheckpoint(t)
	eot, _ := tok.SpecialID(tokenizer.EndOfText)
	cases := []struct{ prompt, response string }{
		{"the cat sat on", " the mat."},
		{"the cat sat on", " the log."},
		{"a dog <|endoftext|> met", " a cat"}, // the special token's text stays text
	}
	m, err := graphs.NewRewardModel(cfg, p, 1, cfg.NPositions, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var got []float64
	for _, c := range cases {
		text := textdata.Text{Plain: c.response}
		pair, err := textdata.TokenizePair(tok, textdata.Record{Format: textdata.Preference, Prompt: textdata.Text{Plain: c.prompt}, Chosen: text, Rejected: text})
		if err != nil {
			t.Fatal(err)
		}
		b, err := textdata.PairBatch([]textdata.Pair{pair}, cfg.NPositions, eot)
		if err != nil {
			t.Fatal(err)
		}
		r, err := m.Score(b.IDs[:cfg.NPositions], b.Last[:1])
		if err != nil {
			t.Fatal(err)
		}
		s := score(t, dir, c.prompt, c.response)
		if math.Abs(s-float64(r[0])) > 1e-5 {
			t.Errorf("%q + %q: score %v, the padded training batch gives %v", c.prompt, c.response, s, r[0])
		}
		got = append(got, s)
	}
	if got[0] == got[1] {
		t.Errorf("two responses score the same, %v", got[0])
	}
	// The same arguments print the same bytes.
	if again := score(t, dir, cases[0].prompt, cases[0].response); again != got[0] {
		t.Errorf("second run %v, first %v", again, got[0])
	}
}

func TestRunScoreRefusesALanguageModel(t *testing.T) {
	lmDir, _, _, _ := generateCheckpoint(t)
	err := runScore(context.Background(), scoreOptions{Checkpoint: lmDir, Prompt: "the", Response: " cat"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "not a reward model") {
		t.Errorf("a language model checkpoint: %v", err)
	}
}
