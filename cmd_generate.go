package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"pipeline/graphs"
	"pipeline/sample"
	"pipeline/tokenizer"
)

func generateCommand() *cli.Command {
	return &cli.Command{
		Name:  "generate",
		Usage: "continue a prompt with a checkpoint and print the continuation",
		Description: "DIR is a model directory (config.json + model.safetensors) with its tokenizer.json beside them.\n" +
			"Special tokens' text in the prompt (<|user|>, <|assistant|>, ...) becomes their ids; an empty prompt\n" +
			"starts from <|endoftext|>. Tokens are drawn with temperature, then top-k, then top-p (Hugging Face's\n" +
			"order) from a PCG seeded with --seed, so the same flags print the same text; --greedy (or\n" +
			"--temperature 0) takes the most likely token instead. Generation stops after --max-new-tokens, at\n" +
			"<|endoftext|>, before the first --stop string, or when the context is full. The continuation, without\n" +
			"the prompt or the stop, is printed followed by a newline.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "checkpoint", Usage: "model `DIR` with tokenizer.json", Required: true},
			&cli.StringFlag{Name: "prompt", Usage: "the `TEXT` to continue"},
			&cli.IntFlag{Name: "max-new-tokens", Value: 64, Usage: "generate at most `N` tokens"},
			&cli.Float64Flag{Name: "temperature", Value: 0.8, Usage: "divide the logits by `T` (0: greedy)"},
			&cli.IntFlag{Name: "top-k", Value: 0, Usage: "draw from the `K` most likely tokens (0: all)"},
			&cli.Float64Flag{Name: "top-p", Value: 1, Usage: "draw from the smallest set of tokens with probability >= `P` (1: all)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the sampler"},
			&cli.StringSliceFlag{Name: "stop", Usage: "stop before `STR` in the generated text (repeatable)"},
			&cli.BoolFlag{Name: "greedy", Usage: "always take the most likely token (ignores temperature, top-k, top-p)"},
		},
		Action: func(c *cli.Context) error {
			if p := c.Float64("top-p"); p <= 0 {
				return fmt.Errorf("%w: --top-p %g: want a probability in (0, 1] (1 keeps every token)", errUsage, p)
			}
			o := generateOptions{
				Checkpoint: c.String("checkpoint"),
				Prompt:     c.String("prompt"),
				MaxNew:     c.Int("max-new-tokens"),
				Sampling:   sample.Options{Temperature: c.Float64("temperature"), TopK: c.Int("top-k"), TopP: c.Float64("top-p")},
				Seed:       c.Uint64("seed"),
				Stop:       c.StringSlice("stop"),
			}
			if c.Bool("greedy") {
				o.Sampling = sample.Options{}
			}
			return runGenerate(c.Context, o, c.App.Writer)
		},
	}
}

type generateOptions struct {
	Checkpoint string         // model directory holding tokenizer.json too
	Prompt     string         // text to continue; special tokens' text becomes their ids
	MaxNew     int            // most tokens to generate
	Sampling   sample.Options // the zero value is greedy
	Seed       uint64         // the sampler's seed
	Stop       []string       // stop strings
}

func runGenerate(ctx context.Context, o generateOptions, stdout io.Writer) error {
	if o.MaxNew < 0 {
		return fmt.Errorf("%w: --max-new-tokens %d is negative", errUsage, o.MaxNew)
	}
	sampler, err := sample.New(o.Seed, o.Sampling)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg, params, err := graphs.Load(o.Checkpoint)
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
	var stopIDs []int
	eot, hasEOT := tok.SpecialID(tokenizer.EndOfText)
	if hasEOT {
		stopIDs = []int{eot}
	}
	prompt := tok.EncodeSpecial(o.Prompt)
	switch {
	case len(prompt) == 0 && !hasEOT:
		return fmt.Errorf("%w: --prompt is empty and the tokenizer has no %s to start from", errUsage, tokenizer.EndOfText)
	case len(prompt) == 0:
		prompt = []int{eot}
	case len(prompt) > cfg.NPositions:
		return fmt.Errorf("%w: --prompt is %d tokens, the model's context %d", errUsage, len(prompt), cfg.NPositions)
	}
	d, err := graphs.NewDecoder(cfg, params)
	if err != nil {
		return err
	}
	g, err := graphs.Generate(ctx, d, prompt, graphs.GenerateOptions{
		MaxNew: o.MaxNew, Sampler: sampler, StopIDs: stopIDs, StopStrings: o.Stop, Decode: tok.Decode,
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", g.Text)
	return err
}
