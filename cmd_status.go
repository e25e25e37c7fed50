package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"pipeline/pipeline"
)

func statusCommand() *cli.Command {
	return configCommand("status", "show each stage as done, partial (with its last step), stale or pending",
		"done: finished with this config; partial: interrupted, `run` resumes it; stale: finished, but its\n"+
			"config, an input file or an upstream stage changed since; pending: never run.",
		runStatus)
}

func runStatus(_ context.Context, file string, sets []string, out io.Writer) error {
	cfg, err := pipeline.Load(file, sets)
	if err != nil {
		return err
	}
	plans, err := pipeline.Plan(cfg)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STAGE\tKIND\tSTATE\tCHECKPOINT")
	for _, p := range plans {
		dir := p.Dir
		if p.State == pipeline.Partial {
			dir = p.WorkDir
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", p.Stage.Name, p.Stage.Kind, p.Describe(), dir)
	}
	return w.Flush()
}
