package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"pipeline/tasks"
)

func tasksCommand() *cli.Command {
	d := tasks.DefaultConfig()
	return &cli.Command{
		Name:  "tasks",
		Usage: "write the offline task data, as the tasks stage does, without a config",
		Description: "Writes under --out, per task, train/eval/fewshot.jsonl items, sft.jsonl {prompt, completion},\n" +
			"prefs_train/prefs_eval.jsonl {prompt, chosen, rejected} and prompts.jsonl {prompt, answer, pattern},\n" +
			"and the same rows of every task mixed at the top. The same flags and seed give the same bytes.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "output `DIR`", Required: true},
			&cli.StringSliceFlag{Name: "corpus", Usage: "the King James Bible in kjv.txt's `FILE` format (the verse tasks need it)"},
			&cli.StringSliceFlag{Name: "tasks", Value: cli.NewStringSlice(d.Tasks...), Usage: "tasks to generate"},
			&cli.IntFlag{Name: "train", Value: d.Train, Usage: "items per task in the train split"},
			&cli.IntFlag{Name: "eval", Value: d.Eval, Usage: "items per task in the eval split"},
			&cli.IntFlag{Name: "fewshot", Value: d.FewShot, Usage: "items per task in the fewshot split"},
			&cli.IntFlag{Name: "min-digits", Value: d.MinDigits, Usage: "fewest digits of an arithmetic operand"},
			&cli.IntFlag{Name: "max-digits", Value: d.MaxDigits, Usage: "most digits of an arithmetic operand"},
			&cli.Float64Flag{Name: "worked-fraction", Value: d.WorkedFraction, Usage: "share of arithmetic training rows with worked answers"},
			&cli.IntFlag{Name: "choices", Value: d.Choices, Usage: "choices of a verse_choice item"},
			&cli.IntFlag{Name: "continue-words", Value: d.ContinueWords, Usage: "words a verse_continue answer has"},
			&cli.IntFlag{Name: "max-verse-words", Value: d.MaxVerseWords, Usage: "longest verse used, in words"},
			&cli.Int64Flag{Name: "seed", Value: 1337, Usage: "seed of the random streams"},
		},
		Action: func(c *cli.Context) error {
			o := tasksOptions{Out: c.String("out"), Corpus: c.StringSlice("corpus"), Seed: c.Int64("seed"),
				Config: tasks.Config{Tasks: c.StringSlice("tasks"), Train: c.Int("train"), Eval: c.Int("eval"),
					FewShot: c.Int("fewshot"), MinDigits: c.Int("min-digits"), MaxDigits: c.Int("max-digits"),
					WorkedFraction: c.Float64("worked-fraction"), Choices: c.Int("choices"),
					ContinueWords: c.Int("continue-words"), MaxVerseWords: c.Int("max-verse-words")}}
			return runTasks(c.Context, o, c.App.Writer)
		},
	}
}

type tasksOptions struct {
	Out    string   // directory written
	Corpus []string // KJV files
	Seed   int64
	Config tasks.Config // everything else; Seed and Verses are filled in by runTasks
}

// verify names the flag of every bad value.
func (o tasksOptions) verify() error {
	var bad []string
	report := func(key, msg string) { bad = append(bad, "--"+strings.ReplaceAll(key, "_", "-")+": "+msg) }
	if len(o.Corpus) == 0 && o.Config.NeedsCorpus() {
		report("corpus", "the verse tasks need the KJV text")
	}
	o.Config.Check(report)
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", errUsage, strings.Join(bad, "; "))
	}
	return nil
}

func runTasks(ctx context.Context, o tasksOptions, out io.Writer) error {
	if err := o.verify(); err != nil {
		return err
	}
	cfg := o.Config
	cfg.Seed = uint64(o.Seed)
	for _, f := range o.Corpus {
		vs, err := tasks.ParseKJVFile(f)
		if err != nil {
			return err
		}
		cfg.Verses = append(cfg.Verses, vs...)
	}
	data, err := tasks.Build(cfg)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	if err := data.Write(o.Out); err != nil {
		return err
	}
	for _, line := range data.Summary() {
		fmt.Fprintln(out, line)
	}
	return nil
}
