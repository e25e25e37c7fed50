package pipeline

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// ExpandFiles gives a kind's Validate the files a pattern names, or the problem validation reports for it.
func TestExpandFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.jsonl", "a.jsonl"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &Config{Dir: dir}
	files, problem := ExpandFiles(cfg, "*.jsonl")
	if want := []string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")}; !slices.Equal(files, want) || problem != "" {
		t.Errorf("ExpandFiles(*.jsonl) = %q, %q; want %q", files, problem, want)
	}
	files, problem = ExpandFiles(cfg, "c.jsonl")
	if want := `"c.jsonl" does not exist (relative paths are relative to ` + dir + ")"; files != nil || problem != want {
		t.Errorf("ExpandFiles(c.jsonl) = %q, %q; want no files and %q", files, problem, want)
	}
}
