package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// goldenGPT2 is the PyTorch reference's gpt2-tiny checkpoint and outputs; it lives only in ../shared
// beside the repository, so a plain clone lacks it.
const goldenGPT2 = "../shared/data/golden/gpt2-tiny"

func skipWithoutGolden(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(goldenGPT2, "config.json")); err != nil {
		t.Skipf("golden checkpoint not present in %s (tests read ../shared next to the repository): %v", goldenGPT2, err)
	}
}

type forwardJSON struct {
	Loss   *float64
	Shape  []int
	Logits [][][]float64
}

func TestRunForwardMatchesReference(t *testing.T) {
	skipWithoutGolden(t)
	var in struct{ IDs string }
	var want forwardJSON
	for name, v := range map[string]any{"ids.json": &in, "forward.json": &want} {
		b, err := os.ReadFile(filepath.Join(goldenGPT2, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := runForward(context.Background(), forwardOptions{Checkpoint: goldenGPT2, IDs: in.IDs}, &out); err != nil {
		t.Fatal(err)
	}
	var got forwardJSON
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if got.Loss == nil || math.Abs(*got.Loss-*want.Loss) > 1e-5 {
		t.Errorf("loss %v, reference %v", got.Loss, *want.Loss)
	}
	if len(got.Shape) != 3 || got.Shape[0] != want.Shape[0] || got.Shape[1] != want.Shape[1] || got.Shape[2] != want.Shape[2] {
		t.Fatalf("shape %v, reference %v", got.Shape, want.Shape)
	}
	for b := range want.Logits {
		for i := range want.Logits[b] {
			for v, x := range want.Logits[b][i] {
				if d := math.Abs(got.Logits[b][i][v] - x); d > 1e-5 {
					t.Fatalf("logit [%d,%d,%d]: %v, reference %v", b, i, v, got.Logits[b][i][v], x)
				}
			}
		}
	}
}

func TestRunForwardSingleTokenLossIsNull(t *testing.T) {
	skipWithoutGolden(t)
	var out bytes.Buffer
	if err := runForward(context.Background(), forwardOptions{Checkpoint: goldenGPT2, IDs: "3;4"}, &out); err != nil {
		t.Fatal(err)
	}
	var got forwardJSON
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Loss != nil || len(got.Logits) != 2 || len(got.Logits[0][0]) != 64 {
		t.Errorf("got loss %v and %d rows", got.Loss, len(got.Logits))
	}
}

func TestRunForwardBadIDs(t *testing.T) {
	for _, ids := range []string{"1,2;3", "x", "1,2,999"} {
		err := runForward(context.Background(), forwardOptions{Checkpoint: goldenGPT2, IDs: ids}, &bytes.Buffer{})
		if err == nil {
			t.Errorf("--ids %q accepted", ids)
		} else if ids != "1,2,999" && !errors.Is(err, errUsage) {
			t.Errorf("--ids %q: %v is not a usage error", ids, err)
		}
	}
}
