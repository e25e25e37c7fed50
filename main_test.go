package main

import (
	"bytes"
	"os"
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
