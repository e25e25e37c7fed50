package main

import (
	"reflect"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestFlagsFirst(t *testing.T) {
	app := &cli.App{Commands: []*cli.Command{runCommand(), generateCommand()}}
	cases := []struct{ in, want []string }{
		{[]string{"p", "run", "c.yaml", "--set", "a=1", "--force", "x", "--only=y"},
			[]string{"p", "run", "--set", "a=1", "--force", "x", "--only=y", "--", "c.yaml"}},
		{[]string{"p", "run", "--from", "sft", "c.yaml"}, []string{"p", "run", "--from", "sft", "--", "c.yaml"}},
		{[]string{"p", "generate", "--greedy", "--prompt", "-x-", "--checkpoint", "d"},
			[]string{"p", "generate", "--greedy", "--prompt", "-x-", "--checkpoint", "d"}},
		{[]string{"p", "nosuch", "a", "--b"}, []string{"p", "nosuch", "a", "--b"}},
	}
	for _, c := range cases {
		if got := flagsFirst(app, c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("flagsFirst(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// Through the real app: a flag after CONFIG reaches the command.
func TestRunAcceptsFlagsAfterConfig(t *testing.T) {
	var got []string
	cmd := runCommand()
	cmd.Action = func(c *cli.Context) error {
		got = append([]string{c.Args().First()}, c.StringSlice("set")...)
		return nil
	}
	app := &cli.App{Commands: []*cli.Command{cmd}, DisableSliceFlagSeparator: true}
	if err := app.Run(flagsFirst(app, []string{"p", "run", "c.yaml", "--set", "stages.tasks.tasks=[a, b]"})); err != nil {
		t.Fatal(err)
	}
	if want := []string{"c.yaml", "stages.tasks.tasks=[a, b]"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
