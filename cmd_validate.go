package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"pipeline/pipeline"
)

func validateCommand() *cli.Command {
	return configCommand("validate", "check a config without training and print it resolved, defaults filled in",
		"Checks the schema, types, references between stages, that input files exist and that sizes fit,\n"+
			"and lists every problem with its file, line and column. Exit status 0 when the config is good.",
		runValidate)
}

func runValidate(_ context.Context, file string, sets []string, out io.Writer) error {
	cfg, err := pipeline.Load(file, sets)
	if err != nil {
		return err
	}
	b, err := resolvedYAML(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "# %s is valid; resolved with defaults:\n%s", file, b)
	return nil
}

// resolvedYAML renders the config as the runner sees it: every default filled in, stages in order.
func resolvedYAML(cfg *pipeline.Config) ([]byte, error) {
	type stage struct {
		Name    string
		Kind    string
		Options any
	}
	doc := &yaml.Node{Kind: yaml.MappingNode}
	add := func(key string, v any) error {
		var n yaml.Node
		if err := n.Encode(v); err != nil {
			return err
		}
		doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, &n)
		return nil
	}
	if err := add("run", cfg.Run); err != nil {
		return nil, err
	}
	add("seed", cfg.Seed)
	add("out_dir", cfg.OutDir)
	add("model", cfg.Model)
	stages := &yaml.Node{Kind: yaml.SequenceNode}
	for _, st := range cfg.Stages {
		var opts yaml.Node
		if err := opts.Encode(st.Options); err != nil {
			return nil, err
		}
		head := []*yaml.Node{
			{Kind: yaml.ScalarNode, Value: "name"}, {Kind: yaml.ScalarNode, Value: st.Name},
			{Kind: yaml.ScalarNode, Value: "kind"}, {Kind: yaml.ScalarNode, Value: st.Kind},
		}
		opts.Content = append(head, opts.Content...)
		stages.Content = append(stages.Content, &opts)
	}
	doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "stages"}, stages)
	return yaml.Marshal(doc)
}
