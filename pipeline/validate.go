package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
)

var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// validate checks what types cannot: names, the model's sizes, references between stages, input files,
// and each kind's own rules. Every problem is recorded with the position of the key it is about.
func validate(cfg *Config, d *decoder) {
	at := func(path string) *Problem {
		return &Problem{Where: d.whereKey(path), Path: path}
	}
	reported := map[string]bool{}
	for _, p := range d.problems {
		reported[p.Path] = true
	}
	add := func(path, format string, args ...any) {
		if reported[path] {
			return // already wrong in a way decoding saw; one message per key
		}
		p := at(path)
		p.Msg = fmt.Sprintf(format, args...)
		d.problems = append(d.problems, *p)
	}
	if cfg.Run != "" && !safeName.MatchString(cfg.Run) { // empty: decoding reported it
		add("run", "%q is not a usable directory name (letters, digits, '_', '.', '-')", cfg.Run)
	}
	m := cfg.Model
	for _, f := range []struct {
		key string
		v   int
	}{{"n_layer", m.NLayer}, {"n_head", m.NHead}, {"n_embd", m.NEmbd}, {"n_positions", m.NPositions}} {
		if f.v <= 0 {
			add("model."+f.key, "must be positive, got %d", f.v)
		}
	}
	if m.NHead > 0 && m.NEmbd%m.NHead != 0 {
		add("model.n_embd", "n_embd %d is not divisible by n_head %d", m.NEmbd, m.NHead)
	}
	if m.LayerNormEpsilon <= 0 {
		add("model.layer_norm_epsilon", "must be positive, got %g", m.LayerNormEpsilon)
	}
	if m.InitStd <= 0 {
		add("model.init_std", "must be positive, got %g", m.InitStd)
	}
	if m.NLayer > 0 && m.NEmbd > 0 && m.NPositions > 0 {
		checkMemory(m, physicalMemory(), add)
	}
	if len(cfg.Stages) == 0 {
		add("stages", "no stages to run")
	}

	names := map[string]int{}
	for i, st := range cfg.Stages {
		if st.Options == nil || hasProblemUnder(reported, st.path) {
			continue // decoding already found it wrong; its values are not worth checking further
		}
		if !safeName.MatchString(st.Name) {
			add(st.path+".name", "%q is not a usable directory name (letters, digits, '_', '.', '-')", st.Name)
		} else if reservedName(st.Name) {
			add(st.path+".name", "%q is reserved for the runner's own files (shards, *.partial, *.old, *.tmp)", st.Name)
		}
		if j, dup := names[st.Name]; dup {
			add(st.path+".name", "stage name %q is already used by stages[%d]", st.Name, j)
		}
		names[st.Name] = i

		for _, r := range taggedFields(st.Options, "ref") {
			for _, target := range r.values {
				up, j, ok := cfg.StageByName(target)
				switch {
				case !ok:
					add(st.path+"."+r.key, "no stage named %q", target)
				case j >= i:
					add(st.path+"."+r.key, "stage %q runs after this one; inputs must come from earlier stages", target)
				case up.Kind != "" && !contains(strings.Split(r.tag, "|"), up.Kind) && r.tag != "any": // no kind: reported at that stage
					add(st.path+"."+r.key, "stage %q is of kind %s; want %s", target, up.Kind, strings.ReplaceAll(r.tag, "|", " or "))
				}
			}
		}
		for _, f := range taggedFields(st.Options, "file") {
			for _, pattern := range f.values {
				if _, bad := ExpandFiles(cfg, pattern); bad != "" {
					add(st.path+"."+f.key, "%s", bad)
				}
			}
		}
		kind, _ := LookupKind(st.Kind)
		kind.Validate(st.Options, cfg, func(key, msg string) { add(st.path+"."+key, "%s", msg) })
	}
}

// taggedField is an options field carrying a ref or file tag, with its string values.
type taggedField struct {
	key    string   // yaml key, dotted for nested structs
	tag    string   // the tag's value
	values []string // non-empty strings the field holds
}

// taggedFields lists the fields of an options struct (nested structs included) that carry tag, in
// declaration order.
func taggedFields(opts any, tag string) []taggedField {
	var out []taggedField
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return
		}
		for _, f := range reflect.VisibleFields(v.Type()) {
			key := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if key == "" || key == "-" || !f.IsExported() || f.Anonymous {
				continue
			}
			fv := v.FieldByIndex(f.Index)
			if t := f.Tag.Get(tag); t != "" {
				tf := taggedField{key: prefix + key, tag: t}
				switch fv.Kind() {
				case reflect.String:
					if fv.String() != "" {
						tf.values = []string{fv.String()}
					}
				case reflect.Slice:
					for i := 0; i < fv.Len(); i++ {
						if s := fv.Index(i).String(); s != "" {
							tf.values = append(tf.values, s)
						}
					}
				}
				out = append(out, tf)
				continue
			}
			if fv.Kind() == reflect.Struct || fv.Kind() == reflect.Pointer {
				walk(fv, prefix+key+".")
			}
		}
	}
	walk(reflect.ValueOf(opts), "")
	return out
}

// Inputs returns the names of the stages this stage reads, in declaration order without repeats.
func (s *StageConfig) Inputs() []string {
	var out []string
	for _, r := range taggedFields(s.Options, "ref") {
		for _, v := range r.values {
			if !contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// Files returns the files this stage reads (globs expanded, sorted within each pattern).
func (s *StageConfig) Files(cfg *Config) ([]string, error) {
	var out []string
	for _, f := range taggedFields(s.Options, "file") {
		for _, pattern := range f.values {
			matches, bad := ExpandFiles(cfg, pattern)
			if bad != "" {
				return nil, fmt.Errorf("stage %s: %s: %s", s.Name, f.key, bad)
			}
			out = append(out, matches...)
		}
	}
	return out, nil
}

// ExpandFiles expands one pattern of a file:"true" option to the files it names, or says in a config
// problem's words why it names none that a stage could read: a path that does not exist, a glob that
// matches nothing, a directory, a file that cannot be opened.
func ExpandFiles(cfg *Config, pattern string) ([]string, string) {
	matches, err := cfg.Glob(pattern)
	if err != nil {
		return nil, fmt.Sprintf("bad file pattern %q: %v", pattern, err)
	}
	if len(matches) == 0 {
		if !hasGlobMeta(pattern) {
			return nil, fmt.Sprintf("%q does not exist (relative paths are relative to %s)", pattern, cfg.Dir)
		}
		return nil, fmt.Sprintf("no file matches %q (relative paths are relative to %s)", pattern, cfg.Dir)
	}
	var dirs []string
	for _, m := range matches {
		info, err := os.Stat(m)
		switch {
		case err != nil:
			return nil, fmt.Sprintf("cannot read %s: %v", m, unwrapPathError(err))
		case info.IsDir():
			dirs = append(dirs, m)
		case !info.Mode().IsRegular():
			return nil, fmt.Sprintf("%s is not a regular file", m)
		default:
			f, err := os.Open(m)
			if err != nil {
				return nil, fmt.Sprintf("cannot read %s: %v", m, unwrapPathError(err))
			}
			f.Close()
		}
	}
	switch {
	case len(dirs) == 0:
		return matches, ""
	case !hasGlobMeta(pattern):
		return nil, fmt.Sprintf("%q is a directory; name the files in it (a glob such as %q works)", pattern, filepath.Join(pattern, "*"))
	default:
		return nil, fmt.Sprintf("%q matches the director%s %s; a file pattern must match files only", pattern,
			map[bool]string{true: "y", false: "ies"}[len(dirs) == 1], strings.Join(dirs, ", "))
	}
}

func hasGlobMeta(pattern string) bool { return strings.ContainsAny(pattern, `*?[\`) }

// unwrapPathError drops the path from an *os.PathError, which the message around it already names.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func hasProblemUnder(reported map[string]bool, path string) bool {
	for p := range reported {
		if p == path || strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") {
			return true
		}
	}
	return false
}

// reservedName reports whether a stage name would collide with a directory the runner or a stage makes
// beside the stages: the token-shard cache and the working, old and temporary copies of stage directories.
func reservedName(name string) bool {
	return name == "shards" || strings.HasSuffix(name, ".partial") || strings.HasSuffix(name, ".old") ||
		strings.HasSuffix(name, ".tmp")
}
