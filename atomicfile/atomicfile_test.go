package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.txt")
	for _, s := range []string{"first", "second"} {
		if err := WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		if string(got) != s {
			t.Fatalf("got %q, want %q", got, s)
		}
	}
}

// A writer that fails half-way must leave the old file intact and no temporary file behind.
func TestFailedWriteKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.txt")
	if err := WriteFile(path, []byte("good"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Write(path, 0o644, func(w io.Writer) error {
		w.Write([]byte("half"))
		return errors.New("disk on fire")
	})
	if err == nil {
		t.Fatal("want the writer's error")
	}
	got, _ := os.ReadFile(path)
	if string(got) != "good" {
		t.Fatalf("old content lost: %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary file left behind: %v", entries)
	}
}

func TestReplaceDirAndRecover(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "stage")
	mk := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(p, 0o755)
		os.WriteFile(filepath.Join(p, "f"), []byte(content), 0o644)
		return p
	}
	mk("stage", "v1")
	if err := ReplaceDir(mk("stage.tmp", "v2"), dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "f")); string(got) != "v2" {
		t.Fatalf("after replace: %q", got)
	}
	if _, err := os.Stat(dst + ".old"); !os.IsNotExist(err) {
		t.Fatal("old copy not removed")
	}
	// Simulate a crash after the first rename of a ReplaceDir: only stage.old exists.
	os.Rename(dst, dst+".old")
	if err := RecoverDir(dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "f")); string(got) != "v2" {
		t.Fatalf("after recover: %q", got)
	}
}
