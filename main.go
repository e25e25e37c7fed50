// Command pipeline trains a small GPT from raw text to an aligned assistant:
//
//	BPE tokenizer -> pretrain -> SFT -> reward model -> PPO or DPO -> eval
//
// from one YAML config. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"pipeline/pipeline"
	_ "pipeline/stages" // registers the stage kinds
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := &cli.App{
		Name:  "pipeline",
		Usage: "train a small GPT from raw text to an aligned assistant, one YAML config at a time",
		Description: "A run is an ordered list of stages (bpe, tasks, pretrain, sft, reward, dpo, ppo, eval) read from\n" +
			"a YAML config. Each stage writes <out_dir>/<run>/<stage>/ atomically; finished stages are skipped,\n" +
			"interrupted ones resume. Start with `pipeline validate configs/tiny.yaml`.",
		// --set values may hold commas (lists): never split them.
		DisableSliceFlagSeparator: true,
		Commands: []*cli.Command{
			runCommand(),
			validateCommand(),
			statusCommand(),
			keysCommand(),
			tokenizeCommand(),
			forwardCommand(),
			generateCommand(),
			scoreCommand(),
			tasksCommand(),
		},
	}
	// A bad flag or flag value is a usage error (exit status 2), for the app and for every command.
	usage := func(_ *cli.Context, err error, _ bool) error { return fmt.Errorf("%w: %v", errUsage, err) }
	app.OnUsageError = usage
	app.CommandNotFound = func(c *cli.Context, name string) {
		exitCode(fmt.Errorf("%w: no command %q; the commands are %s (pipeline help)", errUsage, name, commandNames(c.App)))
		os.Exit(2)
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = usage
	}
	os.Exit(exitCode(app.RunContext(ctx, flagsFirst(app, os.Args))))
}

// exitCode is the one place errors become exit codes: 0 success, 1 failure, 2 a bad config or usage,
// 130 interrupted (as a shell reports Ctrl-C).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ps pipeline.Problems
	switch {
	case errors.As(err, &ps):
		fmt.Fprintf(os.Stderr, "%d problem(s) in the config:\n%v\n", len(ps), err)
		return 2
	case errors.Is(err, pipeline.ErrInterrupted), errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		return 130
	case errors.Is(err, errUsage), errors.Is(err, pipeline.ErrUsage), strings.HasPrefix(err.Error(), "Required flag"):
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		return 2
	}
	fmt.Fprintln(os.Stderr, "pipeline:", err)
	return 1
}

var errUsage = errors.New("usage")

// commandNames lists the app's commands, comma separated.
func commandNames(app *cli.App) string {
	var names []string
	for _, cmd := range app.Commands {
		names = append(names, cmd.Name)
	}
	return strings.Join(names, ", ")
}

// configArg returns the command's single CONFIG argument.
func configArg(c *cli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("%w: pipeline %s CONFIG (got %d arguments)", errUsage, c.Command.Name, c.NArg())
	}
	return c.Args().First(), nil
}

// setFlag is --set, shared by every command that reads a config.
func setFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "set", Usage: "override a config value: `key.path=value`, e.g. stages.pretrain.max_steps=10 (repeatable)"}
}

// configCommand is a command that reads one CONFIG (with --set overrides) and hands it to run.
func configCommand(name, usage, description string, run func(ctx context.Context, file string, sets []string, out io.Writer) error) *cli.Command {
	return &cli.Command{
		Name:        name,
		Usage:       usage,
		ArgsUsage:   "CONFIG",
		Description: description,
		Flags:       []cli.Flag{setFlag()},
		Action: func(c *cli.Context) error {
			file, err := configArg(c)
			if err != nil {
				return err
			}
			return run(c.Context, file, c.StringSlice("set"), c.App.Writer)
		},
	}
}
