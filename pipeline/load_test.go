package pipeline

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Paths and patterns in a directory whose name holds glob characters: an existing path is itself, a
// relative pattern matches only below the config's directory taken literally.
func TestGlobInADirectoryNamedLikeAPattern(t *testing.T) {
	root := filepath.Join(t.TempDir(), "runs[1]")
	for _, f := range []string{"a.txt", "b.txt", "data [x].txt", "conf/run.yaml"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// runs1/a.txt is what "runs[1]" means as a pattern: it must not be found.
	if err := os.MkdirAll(filepath.Join(filepath.Dir(root), "runs1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(root), "runs1", "c.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Dir: filepath.Join(root, "conf")}
	for _, c := range []struct {
		path string
		want []string
	}{
		{"../a.txt", []string{filepath.Join(root, "a.txt")}},
		{"../*.txt", []string{filepath.Join(root, "a.txt"), filepath.Join(root, "b.txt"), filepath.Join(root, "data [x].txt")}},
		{"../data [x].txt", []string{filepath.Join(root, "data [x].txt")}},
		{filepath.Join(root, "b.txt"), []string{filepath.Join(root, "b.txt")}},
		{"../../runs1/*.txt", []string{filepath.Join(filepath.Dir(root), "runs1", "c.txt")}},
		{"../c.txt", nil},
	} {
		got, err := cfg.Glob(c.path)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Glob(%q) = %q, %v; want %q", c.path, got, err, c.want)
		}
	}
}
