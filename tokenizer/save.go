package tokenizer

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"pipeline/atomicfile"
)

// Save writes dir/tokenizer.json (the file Load reads), dir/vocab.json and dir/merges.txt (GPT-2's
// formats, for people and other tools). dir must exist.
func (t *Tokenizer) Save(dir string) error {
	files := []struct {
		name  string
		write func(*Tokenizer, io.Writer) error
	}{
		{"tokenizer.json", (*Tokenizer).writeTokenizerJSON},
		{"vocab.json", (*Tokenizer).writeVocabJSON},
		{"merges.txt", (*Tokenizer).writeMergesTxt},
	}
	for _, f := range files {
		err := atomicfile.Write(filepath.Join(dir, f.name), 0o644, func(w io.Writer) error { return f.write(t, w) })
		if err != nil {
			return fmt.Errorf("tokenizer: save %s: %w", f.name, err)
		}
	}
	return nil
}

// Load reads dir/tokenizer.json, as Save writes it.
func Load(dir string) (*Tokenizer, error) {
	path := filepath.Join(dir, "tokenizer.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := readTokenizerJSON(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return t, nil
}
