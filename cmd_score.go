package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"pipeline/graphs"
	"pipeline/textdata"
)

func scoreCommand() *cli.Command {
	return &cli.Command{
		Name:  "score",
		Usage: "score a response to a prompt with a reward model and print {\"score\": r} as JSON",
		Description: "DIR is a reward model directory as the reward stage writes it (config.json naming\n" +
			"GPT2ForSequenceClassification, model.safetensors with score.weight, tokenizer.json). The prompt and\n" +
			"the response are rendered as in training, prompt + response + <|endoftext|>, with any special token's\n" +
			"text inside them kept as ordinary text; together they must fit the model's context. The score\n" +
			"r(x, y) is the head read at the last token; higher means more preferred.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "checkpoint", Usage: "reward model `DIR` with tokenizer.json", Required: true},
			&cli.StringFlag{Name: "prompt", Usage: "the prompt `TEXT` x"},
			&cli.StringFlag{Name: "response", Usage: "the response `TEXT` y, as the answer's text follows the prompt (mind a leading space)"},
		},
		Action: func(c *cli.Context) error {
			return runScore(c.Context, scoreOptions{Checkpoint: c.String("checkpoint"), Prompt: c.String("prompt"),
				Response: c.String("response")}, c.App.Writer)
		},
	}
}

type scoreOptions struct {
	Checkpoint string // reward model directory holding tokenizer.json too
	Prompt     string // x
	Response   string // y
}

func runScore(_ context.Context, o scoreOptions, stdout io.Writer) error {
	cfg, params, err := graphs.LoadReward(o.Checkpoint)
	if err != nil {
		return err
	}
	tok, err := loadTokenizerDir(o.Checkpoint)
	if err != nil {
		return err
	}
	if tok.VocabSize() > cfg.VocabSize {
		return fmt.Errorf("%s: the tokenizer has %d ids, the model only %d", o.Checkpoint, tok.VocabSize(), cfg.VocabSize)
	}
	// A pair whose two sides are the response renders and tokenizes exactly as the reward stage's data.
	text := textdata.Text{Plain: o.Response}
	pair, err := textdata.TokenizePair(tok, textdata.Record{Format: textdata.Preference,
		Prompt: textdata.Text{Plain: o.Prompt}, Chosen: text, Rejected: text})
	if err != nil {
		return err
	}
	ids := pair.Chosen.IDs
	if len(ids) > cfg.NPositions {
		// Cutting from the end, as training does, would drop the response and score the prompt alone.
		return fmt.Errorf("%w: prompt and response are %d tokens, the model's context is %d", errUsage, len(ids), cfg.NPositions)
	}
	m, err := graphs.NewRewardModel(cfg, params, 1, len(ids), false, 0)
	if err != nil {
		return err
	}
	defer m.Close()
	r, err := m.Score(ids, []int{len(ids) - 1})
	if err != nil {
		return err
	}
	b, err := json.Marshal(struct {
		Score float32 `json:"score"`
	}{r[0]})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}
