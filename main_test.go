package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"pipeline/pipeline"
)

// docs/config-reference.md is `pipeline keys` output; it must be regenerated whenever an option changes.
func TestConfigReferenceIsCurrent(t *testing.T) {
	var b bytes.Buffer
	pipeline.WriteReference(&b)
	have, err := os.ReadFile("docs/config-reference.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Fatal("docs/config-reference.md is out of date: run `go run . keys > docs/config-reference.md`")
	}
}

// Every shipped config must validate.
func TestShippedConfigsValidate(t *testing.T) {
	for _, f := range []string{"configs/tiny.yaml", "configs/gpt-small.yaml"} {
		if _, err := pipeline.Load(f, nil); err != nil {
			if _, statErr := os.Stat("data/corpus/kjv.txt"); statErr != nil {
				t.Skipf("data/corpus is absent (bash scripts/get-data.sh makes it): %v", err)
			}
			t.Errorf("%s: %v", f, err)
		}
	}
}

// The example config in README.md must validate as it stands (a newcomer copies it first).
func TestReadmeExampleConfigValidates(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(readme, []byte("```yaml\nrun: tiny"))
	if start < 0 {
		t.Fatal("README.md has no ```yaml example starting with run: tiny")
	}
	block := readme[start+len("```yaml\n"):]
	block = block[:bytes.Index(block, []byte("```"))]
	dir := t.TempDir()
	corpus := filepath.Join(dir, "data", "corpus")
	os.MkdirAll(corpus, 0o755)
	os.MkdirAll(filepath.Join(dir, "configs"), 0o755)
	for _, f := range []string{"kjv.txt", "fortunes.txt"} {
		os.WriteFile(filepath.Join(corpus, f), []byte("text\n"), 0o644)
	}
	path := filepath.Join(dir, "configs", "example.yaml")
	os.WriteFile(path, block, 0o644)
	if _, err := pipeline.Load(path, nil); err != nil {
		t.Fatalf("README's example config:\n%v", err)
	}
}
