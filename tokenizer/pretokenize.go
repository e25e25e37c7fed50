package tokenizer

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Pattern names the rule that cuts text into pre-tokens ("words") before BPE. Merges never cross a
// pre-token boundary.
type Pattern string

const (
	// PatternGPT2 is GPT-2's pattern (GPT2Regex).
	PatternGPT2 Pattern = "gpt2"
	// PatternGPT4 is the pattern of tiktoken's cl100k_base encoding (GPT4Regex).
	PatternGPT4 Pattern = "gpt4"
)

// GPT2Regex is the pattern of GPT-2's encoder.py, also the one Hugging Face's ByteLevel pre-tokenizer uses.
const GPT2Regex = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// GPT4Regex is cl100k_base's pattern.
const GPT4Regex = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// Regex returns the pattern's regular expression (for tokenizer.json; we never run it: Go's regexp has no
// look-ahead, so each pattern is written out by hand below and tested equal to a regexp2 engine).
func (p Pattern) Regex() (string, error) {
	switch p {
	case PatternGPT2:
		return GPT2Regex, nil
	case PatternGPT4:
		return GPT4Regex, nil
	}
	return "", fmt.Errorf("tokenizer: unknown pattern %q (want gpt2 or gpt4)", p)
}

// preTokenizer cuts text into pre-tokens. next returns the end of the pre-token that starts at byte i
// (i < len(s)); the pre-tokens of s are the consecutive spans it gives from 0.
//
// Text is read as UTF-8. A byte that is not part of valid UTF-8 counts as one character of its own, U+FFFD,
// which is neither letter, number nor space: tiktoken and Hugging Face only ever see valid strings, and this
// choice keeps every input splittable while the byte-level BPE below still round-trips the original bytes.
type preTokenizer struct {
	next        func(s string, i int) int
	splitDigits bool // every \p{N} character becomes a pre-token of its own
}

func newPreTokenizer(p Pattern, splitDigits bool) (preTokenizer, error) {
	switch p {
	case PatternGPT2:
		return preTokenizer{next: nextGPT2, splitDigits: splitDigits}, nil
	case PatternGPT4:
		return preTokenizer{next: nextGPT4, splitDigits: splitDigits}, nil
	}
	return preTokenizer{}, fmt.Errorf("tokenizer: unknown pattern %q (want gpt2 or gpt4)", p)
}

// each calls fn with the [start, end) byte span of every pre-token of s, in order.
func (pt preTokenizer) each(s string, fn func(start, end int)) {
	for i := 0; i < len(s); {
		j := pt.next(s, i)
		if pt.splitDigits {
			eachDigitCut(s, i, j, fn)
		} else {
			fn(i, j)
		}
		i = j
	}
}

// eachDigitCut cuts the pre-token s[i:j] before and after every number character: " 2024!" gives
// " ", "2", "0", "2", "4", "!" (Hugging Face's Digits(individual_digits=true) after the pattern).
func eachDigitCut(s string, i, j int, fn func(start, end int)) {
	start := i
	for k := i; k < j; {
		c, n := classAt(s, k)
		if c == classNumber {
			if start < k {
				fn(start, k)
			}
			fn(k, k+n)
			start = k + n
		}
		k += n
	}
	if start < j {
		fn(start, j)
	}
}

// charClass is the only thing the patterns ask of a character besides its identity.
type charClass uint8

const (
	classOther  charClass = iota // [^\s\p{L}\p{N}], invalid UTF-8 bytes included
	classLetter                  // \p{L}
	classNumber                  // \p{N}
	classSpace                   // \s: Unicode White_Space, as in Rust's regex (tiktoken) and .NET (regexp2)
)

var asciiClass = func() (t [utf8.RuneSelf]charClass) {
	for c := range t {
		t[c] = runeClass(rune(c))
	}
	return t
}()

func runeClass(r rune) charClass {
	switch {
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	case unicode.IsSpace(r):
		return classSpace
	}
	return classOther
}

// classAt returns the class of the character at byte i and its length in bytes.
func classAt(s string, i int) (charClass, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return runeClass(r), n // an invalid byte decodes as (U+FFFD, 1): classOther
}

// runEnd returns the end of the run of characters of class c that starts at i.
func runEnd(s string, i int, c charClass) int {
	for i < len(s) {
		ci, n := classAt(s, i)
		if ci != c {
			break
		}
		i += n
	}
	return i
}

// spaceEnd is the end of `\s+(?!\S)|\s+` for the whitespace run s[i:j] (j is the run's end): the whole run
// at the end of the text, else the run less its last character when that leaves something (the last one
// then starts the next pre-token, e.g. as the space of " word"), else the single character.
func spaceEnd(s string, i, j int) int {
	if j == len(s) {
		return j
	}
	_, last := utf8.DecodeLastRuneInString(s[i:j])
	if j-last > i {
		return j - last
	}
	return j
}

// contraction returns the length of the contraction ('s 't 're 've 'm 'll 'd) at s[i] == '\”, or 0.
// foldCase compares case-insensitively as Rust's regex does for (?i): ASCII case, and 'ſ' (U+017F) for s.
func contraction(s string, i int, foldCase bool) int {
	rest := s[i+1:]
	lower := func(k int) byte {
		if k >= len(rest) {
			return 0
		}
		c := rest[k]
		if foldCase && c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		return c
	}
	switch lower(0) {
	case 's', 't', 'm', 'd':
		return 2
	case 'r', 'v':
		if lower(1) == 'e' {
			return 3
		}
	case 'l':
		if lower(1) == 'l' {
			return 3
		}
	case 0xC5: // first byte of U+017F LATIN SMALL LETTER LONG S, which folds to s
		if foldCase && len(rest) > 1 && rest[1] == 0xBF {
			return 3
		}
	}
	return 0
}
