package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// LoadGPT2 reads OpenAI's GPT-2 files: encoder.json (byte-level token -> id) and vocab.bpe (the merges in
// rank order, after a "#version" line). vocab.json + merges.txt, as Save writes them, are the same formats.
// An entry of the vocabulary that is neither a single byte nor made by a merge is a special token (GPT-2
// has one: <|endoftext|> = 50256). The pre-tokenizer is GPT-2's pattern.
func LoadGPT2(encoderJSON, vocabBPE string) (*Tokenizer, error) {
	vocabData, err := os.ReadFile(encoderJSON)
	if err != nil {
		return nil, err
	}
	mergesData, err := os.ReadFile(vocabBPE)
	if err != nil {
		return nil, err
	}
	var vocab map[string]int
	if err := json.Unmarshal(vocabData, &vocab); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", encoderJSON, err)
	}
	merges, err := parseMerges(bytes.NewReader(mergesData))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", vocabBPE, err)
	}
	m, err := modelFromStrings(vocab, merges, nil)
	if err != nil {
		return nil, err
	}
	m.pattern = PatternGPT2
	return newTokenizer(m)
}

// parseMerges reads merges.txt / vocab.bpe: one "left right" pair of byte-level tokens a line; blank lines
// and a first line starting with "#version" are skipped.
func parseMerges(r io.Reader) ([][2]string, error) {
	var merges [][2]string
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.TrimSpace(text) == "" || (line == 1 && strings.HasPrefix(text, "#version")) {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want two tokens, got %q", line, text)
		}
		merges = append(merges, [2]string{f[0], f[1]})
	}
	return merges, sc.Err()
}

// modelFromStrings turns a byte-level vocabulary (token -> id) and merges into a model. Tokens listed in
// specials are special; so is any other vocabulary entry that no merge makes and that is not a single byte.
func modelFromStrings(vocab map[string]int, merges [][2]string, specials map[string]int) (model, error) {
	m := model{specials: map[int]string{}}
	size := 0
	for _, id := range vocab {
		size = max(size, id+1)
	}
	for _, id := range specials {
		size = max(size, id+1)
	}
	if size > len(vocab)+len(specials) {
		return m, fmt.Errorf("tokenizer: ids run to %d but there are %d tokens: ids must be 0, 1, 2, ...", size-1, len(vocab)+len(specials))
	}
	m.vocab = make([][]byte, size)
	made := make(map[string]bool, len(merges))
	for _, p := range merges {
		made[p[0]+p[1]] = true
	}
	for text, id := range vocab {
		if id < 0 {
			return m, fmt.Errorf("tokenizer: token %q has negative id %d", text, id)
		}
		if _, isSpecial := specials[text]; isSpecial {
			continue
		}
		b, ok := byteLevelBytes(text)
		if !ok || (len(b) > 1 && !made[text]) {
			m.specials[id] = text
			continue
		}
		if m.vocab[id] != nil {
			return m, fmt.Errorf("tokenizer: id %d is given to two tokens", id)
		}
		m.vocab[id] = b
	}
	for text, id := range specials {
		if id < 0 {
			return m, fmt.Errorf("tokenizer: special token %q has negative id %d", text, id)
		}
		if prev, dup := m.specials[id]; dup && prev != text {
			return m, fmt.Errorf("tokenizer: id %d is given to %q and %q", id, prev, text)
		}
		m.specials[id] = text
	}
	for r, p := range merges {
		a, okA := vocab[p[0]]
		b, okB := vocab[p[1]]
		if !okA || !okB {
			return m, fmt.Errorf("tokenizer: merge %d (%s %s) uses a token not in the vocabulary", r, p[0], p[1])
		}
		m.merges = append(m.merges, [2]int32{int32(a), int32(b)})
	}
	return m, nil
}

// writeVocabJSON writes {"token": id, ...} in id order: ordinary tokens in the byte-level alphabet,
// special tokens as they are.
func (t *Tokenizer) writeVocabJSON(w io.Writer) error {
	var buf bytes.Buffer
	buf.WriteString("{")
	for id := range t.vocab {
		if id > 0 {
			buf.WriteString(",")
		}
		buf.WriteString("\n  ")
		writeJSONString(&buf, t.tokenString(id))
		fmt.Fprintf(&buf, ": %d", id)
	}
	buf.WriteString("\n}\n")
	_, err := w.Write(buf.Bytes())
	return err
}

// writeMergesTxt writes "#version: 0.2" and one "left right" line per merge, in rank order.
func (t *Tokenizer) writeMergesTxt(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("#version: 0.2\n")
	for _, m := range t.merges {
		bw.WriteString(byteLevelString(t.vocab[m.a]) + " " + byteLevelString(t.vocab[m.b]) + "\n")
	}
	return bw.Flush()
}

// tokenString is the vocabulary files' spelling of an id.
func (t *Tokenizer) tokenString(id int) string {
	if t.vocab[id] != nil {
		return byteLevelString(t.vocab[id])
	}
	text, _ := t.specialText(id)
	return text
}

// writeJSONString writes s as a JSON string, without escaping <, > and & as encoding/json does by default.
func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)               // a string always encodes
	buf.Truncate(buf.Len() - 1) // the newline Encode adds
}
