package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads a config file, applies --set overrides, decodes it strictly and validates it. On failure the
// error is a Problems listing everything found, each with its file, line and column.
func Load(file string, sets []string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, Problems{{Where: file, Msg: err.Error()}}
	}
	doc, bad := parseYAML(file, data)
	if bad != nil {
		return nil, Problems{*bad}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, Problems{{Where: file, Msg: "the config is empty or not a mapping of keys (run, seed, out_dir, model, stages)"}}
	}
	d := newDecoder(file)
	root := doc.Content[0]
	for _, s := range sets {
		if err := applySet(root, s, d.setFlags); err != nil {
			d.problems = append(d.problems, Problem{Where: "--set " + s, Msg: err.Error()})
		}
	}
	cfg := &Config{Model: DefaultModel(), OutDir: "checkpoints", File: file, Dir: filepath.Dir(file)}
	d.decodeStruct(root, reflect.ValueOf(cfg).Elem(), "", nil)
	validate(cfg, d)
	if len(d.problems) > 0 {
		return nil, d.problems
	}
	return cfg, nil
}

// AsProblems returns err's list of config problems, if it has one.
func AsProblems(err error) (Problems, bool) {
	var ps Problems
	ok := errors.As(err, &ps)
	return ps, ok
}

// Resolve turns a path from the config into one usable from the working directory: relative paths are
// relative to the config file's directory.
func (c *Config) Resolve(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(c.Dir, path)
}

// Glob returns the files a file option's path or pattern names, relative paths resolved against the
// config's directory. A path that exists is that file, whatever characters it holds ("data [1].txt");
// only one that does not is a glob, and then only the part the config wrote is a pattern: the config's
// own directory is matched literally, so a config in "runs[1]/" still finds "../kjv.txt".
func (c *Config) Glob(path string) ([]string, error) {
	resolved := c.Resolve(path)
	if _, err := os.Lstat(resolved); err == nil {
		return []string{resolved}, nil
	}
	if filepath.IsAbs(path) {
		return filepath.Glob(path)
	}
	return filepath.Glob(filepath.Join(escapeGlob(c.Dir), path))
}

// escapeGlob quotes the characters filepath.Match treats as a pattern, so that s matches only itself.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// RunDir is <out_dir>/<run>, the directory that holds every stage's output.
func (c *Config) RunDir() string { return filepath.Join(c.Resolve(c.OutDir), c.Run) }

// StageByName returns the stage with that name.
func (c *Config) StageByName(name string) (*StageConfig, int, bool) {
	for i, s := range c.Stages {
		if s.Name == name {
			return s, i, true
		}
	}
	return nil, -1, false
}

func (s *StageConfig) String() string { return fmt.Sprintf("%s (%s)", s.Name, s.Kind) }
