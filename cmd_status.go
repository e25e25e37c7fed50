package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"pipeline/pipeline"
)

func statusCommand() *cli.Command {
	return configCommand("status", "show each stage as done, running or partial (with its last step), stale or pending",
		"done: finished with this config; running: a `run` is training it now (its last checkpoint shown);\n"+
			"partial: interrupted, `run` resumes it; stale: finished, but its config, an input file or an\n"+
			"upstream stage changed since; pending: never run.",
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
	running := pipeline.Running(cfg)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STAGE\tKIND\tSTATE\tCHECKPOINT")
	for _, p := range plans {
		dir, state := p.Dir, p.Describe()
		if p.State == pipeline.Partial {
			dir = p.WorkDir
			if running { // a run holds the lock: its partial stage is training now
				state = strings.Replace(state, "partial", "running", 1)
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", p.Stage.Name, p.Stage.Kind, state, dir)
	}
	return w.Flush()
}
