package textdata

import (
	"os"
	"path/filepath"
	"testing"

	"pipeline/tokenizer"
)

// Ids of the test tokenizer: bytes are their own ids, one merge (" ", "9") -> 256, then the specials.
const (
	idSpace9    = 256
	idEOT       = 257
	idSystem    = 258
	idUser      = 259
	idAssistant = 260
)

// testTokenizer learns the single merge (" ", "9") from " 9 9 9" and adds the default special tokens.
func testTokenizer(t *testing.T) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.Train([]string{" 9 9 9"}, tokenizer.TrainOptions{
		VocabSize: 261, SpecialTokens: tokenizer.DefaultSpecialTokens})
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode(" 9"); len(got) != 1 || got[0] != idSpace9 {
		t.Fatalf(`test tokenizer encodes " 9" as %v, want [%d]`, got, idSpace9)
	}
	if id, _ := tok.SpecialID(tokenizer.Assistant); id != idAssistant {
		t.Fatalf("<|assistant|> is %d, want %d", id, idAssistant)
	}
	return tok
}

// bytesIDs is the ids of text under the test tokenizer when no " 9" occurs: one id per byte.
func bytesIDs(text string) []int {
	out := make([]int, len(text))
	for i := range len(text) {
		out[i] = int(text[i])
	}
	return out
}

// writeFile writes a data file into a temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
