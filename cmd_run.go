package main

import (
	"context"
	"io"

	"github.com/urfave/cli/v2"

	"pipeline/pipeline"
)

type runOptions struct {
	Config string
	Sets   []string
	pipeline.RunOptions
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run the stages of a config, skipping finished ones and resuming interrupted ones",
		ArgsUsage: "CONFIG",
		Description: "Runs every stage in order. A stage whose output matches its config and inputs is skipped; one that\n" +
			"was interrupted resumes from its last checkpoint; Ctrl-C stops after writing a checkpoint.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "re-run `STAGE` and every stage after it (earlier stages must be done)"},
			&cli.StringFlag{Name: "only", Usage: "run just `STAGE` (its inputs must be done)"},
			&cli.StringFlag{Name: "until", Usage: "stop after `STAGE`: run it and the stages before it"},
			&cli.StringSliceFlag{Name: "force", Usage: "re-run `STAGE` even if it is done (repeatable); a forced run that was interrupted resumes"},
			setFlag(),
		},
		Action: func(c *cli.Context) error {
			file, err := configArg(c)
			if err != nil {
				return err
			}
			return runRun(c.Context, runOptions{Config: file, Sets: c.StringSlice("set"), RunOptions: pipeline.RunOptions{
				From: c.String("from"), Only: c.String("only"), Until: c.String("until"), Force: c.StringSlice("force"), Out: c.App.Writer}})
		},
	}
}

func runRun(ctx context.Context, opts runOptions) error {
	cfg, err := pipeline.Load(opts.Config, opts.Sets)
	if err != nil {
		return err
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	return pipeline.Run(ctx, cfg, opts.RunOptions)
}
