package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Hugging Face's tokenizer.json, as tokenizers 0.13 reads and writes it, for a byte-level BPE:
//
//	pre_tokenizer  ByteLevel(use_regex) for the GPT-2 pattern; otherwise
//	               Sequence[Split(pattern, Isolated), Digits(individual) if split_digits, ByteLevel(no regex)]
//	decoder        ByteLevel
//	model          BPE with vocab (byte-level token -> id, in id order) and merges ("left right", rank order)
//	added_tokens   the special tokens (also in the model's vocab, as GPT-2's tokenizer.json has them)
type hfTokenizer struct {
	Version       string          `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       *hfPreTokenizer `json:"decoder"`
	Model         hfModel         `json:"model"`
}

type hfAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// hfPreTokenizer covers the pre-tokenizers and the decoder we write: ByteLevel, Split, Digits, Sequence.
type hfPreTokenizer struct {
	Type             string           `json:"type"`
	AddPrefixSpace   *bool            `json:"add_prefix_space,omitempty"`
	TrimOffsets      *bool            `json:"trim_offsets,omitempty"`
	UseRegex         *bool            `json:"use_regex,omitempty"`
	Pattern          *hfPattern       `json:"pattern,omitempty"`
	Behavior         string           `json:"behavior,omitempty"`
	Invert           *bool            `json:"invert,omitempty"`
	IndividualDigits *bool            `json:"individual_digits,omitempty"`
	PreTokenizers    []hfPreTokenizer `json:"pretokenizers,omitempty"`
}

type hfPattern struct {
	Regex string `json:"Regex"`
}

type hfModel struct {
	Type                    string            `json:"type"`
	Dropout                 *float64          `json:"dropout"`
	UnkToken                *string           `json:"unk_token"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	FuseUnk                 bool              `json:"fuse_unk"`
	Vocab                   orderedVocab      `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
}

// orderedVocab is a vocabulary that marshals in id order (a Go map would marshal in key order).
type orderedVocab struct {
	tokens []string // id -> byte-level spelling; for reading, the decoded map is in byID
	byID   map[string]int
}

func (v orderedVocab) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("{")
	for id, tok := range v.tokens {
		if id > 0 {
			buf.WriteString(",")
		}
		writeJSONString(&buf, tok)
		fmt.Fprintf(&buf, ":%d", id)
	}
	buf.WriteString("}")
	return buf.Bytes(), nil
}

func (v *orderedVocab) UnmarshalJSON(data []byte) error { return json.Unmarshal(data, &v.byID) }

func boolPtr(b bool) *bool { return &b }

// writeTokenizerJSON writes the tokenizer as Hugging Face's tokenizer.json.
func (t *Tokenizer) writeTokenizerJSON(w io.Writer) error {
	pre, err := t.hfPreTokenizer()
	if err != nil {
		return err
	}
	preJSON, err := json.Marshal(pre)
	if err != nil {
		return err
	}
	doc := hfTokenizer{
		Version:       "1.0",
		Truncation:    json.RawMessage("null"),
		Padding:       json.RawMessage("null"),
		AddedTokens:   []hfAddedToken{},
		Normalizer:    json.RawMessage("null"),
		PreTokenizer:  preJSON,
		PostProcessor: json.RawMessage("null"),
		Decoder: &hfPreTokenizer{Type: "ByteLevel", AddPrefixSpace: boolPtr(true), TrimOffsets: boolPtr(true),
			UseRegex: boolPtr(true)},
		Model: hfModel{Type: "BPE"},
	}
	for _, s := range t.specials {
		doc.AddedTokens = append(doc.AddedTokens, hfAddedToken{ID: s.id, Content: s.text, Special: true})
	}
	for id := range t.vocab {
		doc.Model.Vocab.tokens = append(doc.Model.Vocab.tokens, t.tokenString(id))
	}
	for _, m := range t.merges {
		line, err := json.Marshal(byteLevelString(t.vocab[m.a]) + " " + byteLevelString(t.vocab[m.b]))
		if err != nil {
			return err
		}
		doc.Model.Merges = append(doc.Model.Merges, line)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// hfPreTokenizer spells the tokenizer's pattern and split_digits as a Hugging Face pre-tokenizer.
func (t *Tokenizer) hfPreTokenizer() (*hfPreTokenizer, error) {
	if t.pattern == PatternGPT2 && !t.splitDigits {
		return &hfPreTokenizer{Type: "ByteLevel", AddPrefixSpace: boolPtr(false), TrimOffsets: boolPtr(true),
			UseRegex: boolPtr(true)}, nil
	}
	re, err := t.pattern.Regex()
	if err != nil {
		return nil, err
	}
	seq := []hfPreTokenizer{{Type: "Split", Pattern: &hfPattern{Regex: re}, Behavior: "Isolated", Invert: boolPtr(false)}}
	if t.splitDigits {
		seq = append(seq, hfPreTokenizer{Type: "Digits", IndividualDigits: boolPtr(true)})
	}
	seq = append(seq, hfPreTokenizer{Type: "ByteLevel", AddPrefixSpace: boolPtr(false), TrimOffsets: boolPtr(true),
		UseRegex: boolPtr(false)})
	return &hfPreTokenizer{Type: "Sequence", PreTokenizers: seq}, nil
}

// readTokenizerJSON reads a tokenizer.json of the shape writeTokenizerJSON writes.
func readTokenizerJSON(data []byte) (*Tokenizer, error) {
	var doc hfTokenizer
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Model.Type != "BPE" {
		return nil, fmt.Errorf("model type %q, want BPE", doc.Model.Type)
	}
	var pre hfPreTokenizer
	if err := json.Unmarshal(doc.PreTokenizer, &pre); err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	pattern, splitDigits, err := parseHFPreTokenizer(&pre)
	if err != nil {
		return nil, err
	}
	merges := make([][2]string, len(doc.Model.Merges))
	for r, raw := range doc.Model.Merges {
		var line string
		if json.Unmarshal(raw, &line) == nil { // "left right"
			left, right, ok := strings.Cut(line, " ")
			if !ok {
				return nil, fmt.Errorf("merge %d: %q is not two tokens", r, line)
			}
			merges[r] = [2]string{left, right}
		} else if err := json.Unmarshal(raw, &merges[r]); err != nil { // ["left", "right"], tokenizers >= 0.20
			return nil, fmt.Errorf("merge %d: %w", r, err)
		}
	}
	specials := make(map[string]int, len(doc.AddedTokens))
	for _, a := range doc.AddedTokens {
		specials[a.Content] = a.ID
	}
	m, err := modelFromStrings(doc.Model.Vocab.byID, merges, specials)
	if err != nil {
		return nil, err
	}
	m.pattern, m.splitDigits = pattern, splitDigits
	return newTokenizer(m)
}

// parseHFPreTokenizer recognizes the pre-tokenizers hfPreTokenizer writes.
func parseHFPreTokenizer(p *hfPreTokenizer) (Pattern, bool, error) {
	// ByteLevel must not add a prefix space (Hugging Face's default does); use_regex defaults to true.
	byteLevel := func(p *hfPreTokenizer, regex bool) bool {
		return p.Type == "ByteLevel" && p.AddPrefixSpace != nil && !*p.AddPrefixSpace &&
			(p.UseRegex == nil || *p.UseRegex) == regex
	}
	if byteLevel(p, true) {
		return PatternGPT2, false, nil
	}
	unsupported := fmt.Errorf("pre_tokenizer: only ByteLevel, or Sequence[Split(gpt2|gpt4 pattern), Digits, ByteLevel] is supported")
	if p.Type != "Sequence" || len(p.PreTokenizers) < 2 {
		return "", false, unsupported
	}
	seq := p.PreTokenizers
	split := &seq[0]
	if split.Type != "Split" || split.Pattern == nil || split.Behavior != "Isolated" || (split.Invert != nil && *split.Invert) {
		return "", false, unsupported
	}
	var pattern Pattern
	switch split.Pattern.Regex {
	case GPT2Regex:
		pattern = PatternGPT2
	case GPT4Regex:
		pattern = PatternGPT4
	default:
		return "", false, fmt.Errorf("pre_tokenizer: unknown split pattern %q", split.Pattern.Regex)
	}
	splitDigits := len(seq) == 3 && seq[1].Type == "Digits" && seq[1].IndividualDigits != nil && *seq[1].IndividualDigits
	if (len(seq) != 2 && !splitDigits) || !byteLevel(&seq[len(seq)-1], false) {
		return "", false, unsupported
	}
	return pattern, splitDigits, nil
}
