package pipeline

import (
	"context"
	"fmt"
	"sort"
)

// Kind is one kind of stage (bpe, pretrain, sft, ...). A kind is stateless: the runner asks it for a
// fresh options value, decodes the stage's YAML mapping into it strictly, validates it, and runs it.
type Kind interface {
	// Name is the value of `kind:` in the config.
	Name() string
	// Doc is one line for `pipeline validate` and --help.
	Doc() string
	// Defaults returns a pointer to a new options struct holding the kind's defaults. The stage's YAML
	// mapping (less `name` and `kind`) is decoded into it strictly.
	Defaults() any
	// Validate checks decoded options beyond what types can say (ranges, sizes that must fit).
	// It reports every problem through report, naming the option's key; it must not touch the disk
	// except to read input files named by the options.
	Validate(opts any, run *Config, report func(key, msg string))
	// Run does the stage's work. Everything it writes goes under env.Dir; on a killed or cancelled run the
	// next call gets the same env.Dir back and should resume from its last checkpoint there.
	Run(ctx context.Context, env *Env, opts any) error
}

var kinds = map[string]Kind{}

// Register makes a stage kind available to configs. Stage packages call it from init.
func Register(k Kind) {
	if _, dup := kinds[k.Name()]; dup {
		panic(fmt.Sprintf("pipeline: stage kind %q registered twice", k.Name()))
	}
	kinds[k.Name()] = k
}

// LookupKind returns the registered kind with that name.
func LookupKind(name string) (Kind, bool) {
	k, ok := kinds[name]
	return k, ok
}

// KindNames lists the registered kinds in sorted order.
func KindNames() []string {
	names := make([]string, 0, len(kinds))
	for n := range kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
