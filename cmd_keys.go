package main

import (
	"github.com/urfave/cli/v2"

	"pipeline/pipeline"
)

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:  "keys",
		Usage: "print the config reference: every key of every stage kind, its type, default and meaning (Markdown)",
		Action: func(c *cli.Context) error {
			pipeline.WriteReference(c.App.Writer)
			return nil
		},
	}
}
