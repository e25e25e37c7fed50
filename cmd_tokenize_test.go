package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

const gpt2Dir = "../shared/data/gpt2"

func skipWithoutGPT2(t *testing.T) {
	t.Helper()
	if _, err := loadTokenizerDir(gpt2Dir); err != nil {
		t.Skipf("GPT-2 files not present in %s (tests read ../shared next to the repository): %v", gpt2Dir, err)
	}
}

// TestRunTokenize: "Hello world" is [15496, 995] in GPT-2 (tiktoken), and the ids decode back.
func TestRunTokenize(t *testing.T) {
	skipWithoutGPT2(t)
	ctx := context.Background()
	var out bytes.Buffer
	if err := runTokenize(ctx, tokenizeOptions{Tokenizer: gpt2Dir}, strings.NewReader("Hello world"), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "15496 995\n" {
		t.Fatalf("encode: %q", out.String())
	}
	var text bytes.Buffer
	if err := runTokenize(ctx, tokenizeOptions{Tokenizer: gpt2Dir, Decode: true}, &out, &text); err != nil {
		t.Fatal(err)
	}
	if text.String() != "Hello world" {
		t.Fatalf("decode: %q", text.String())
	}
}

// TestRunTokenizeSpecial: <|endoftext|> is 50256 only with --special; as text it is "<", "|", "endoftext", "|>".
func TestRunTokenizeSpecial(t *testing.T) {
	skipWithoutGPT2(t)
	for special, want := range map[bool]string{true: "50256\n", false: "27 91 437 1659 5239 91 29\n"} {
		var out bytes.Buffer
		o := tokenizeOptions{Tokenizer: gpt2Dir, Special: special}
		if err := runTokenize(context.Background(), o, strings.NewReader("<|endoftext|>"), &out); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Errorf("special=%v: %q, want %q", special, out.String(), want)
		}
	}
}

func TestRunTokenizeBadIDs(t *testing.T) {
	skipWithoutGPT2(t)
	for _, in := range []string{"1 x 2", "50257", "-1"} {
		err := runTokenize(context.Background(), tokenizeOptions{Tokenizer: gpt2Dir, Decode: true}, strings.NewReader(in), &bytes.Buffer{})
		if !errors.Is(err, errUsage) {
			t.Errorf("%q: err %v, want a usage error", in, err)
		}
	}
}
