package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// The hand-written pre-tokenizers are proven equal to their patterns run by regexp2, a backtracking engine
// with look-ahead. regexp2 follows .NET, whose (?i) does not fold 'ſ' to 's' the way Rust's regex (and so
// tiktoken) does, so the GPT-4 reference spells the contractions' case folding out.
var referencePatterns = map[Pattern]*regexp2.Regexp{
	PatternGPT2: regexp2.MustCompile(GPT2Regex),
	PatternGPT4: regexp2.MustCompile(strings.Replace(GPT4Regex, `(?i:'s|'t|'re|'ve|'m|'ll|'d)`,
		`'(?:[sSſ]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])`, 1)),
}

// referenceSplit returns the pre-tokens of s by regexp2, cutting around digits afterwards if asked.
func referenceSplit(t *testing.T, p Pattern, splitDigits bool, s string) []string {
	t.Helper()
	var out []string
	m, err := referencePatterns[p].FindStringMatch(s)
	for ; m != nil && err == nil; m, err = referencePatterns[p].FindNextMatch(m) {
		piece := m.String()
		if !splitDigits {
			out = append(out, piece)
			continue
		}
		start := 0
		for k, r := range piece {
			if runeClass(r) == classNumber {
				if start < k {
					out = append(out, piece[start:k])
				}
				out = append(out, string(r))
				start = k + utf8.RuneLen(r)
			}
		}
		if start < len(piece) {
			out = append(out, piece[start:])
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func ourSplit(t *testing.T, p Pattern, splitDigits bool, s string) []string {
	t.Helper()
	pt, err := newPreTokenizer(p, splitDigits)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	pt.each(s, func(i, j int) { out = append(out, s[i:j]) })
	return out
}

// replaceInvalid replaces every byte that is not part of valid UTF-8 by U+FFFD, one for one.
func replaceInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

// checkSplit asserts that our pre-tokens of s equal the reference's, for every pattern and split_digits.
// For invalid UTF-8 it asserts that our pieces of s, with invalid bytes replaced, are our pieces of the
// replaced text, which in turn equal the reference's: an invalid byte splits exactly like U+FFFD.
func checkSplit(t *testing.T, s string) {
	t.Helper()
	for _, p := range []Pattern{PatternGPT2, PatternGPT4} {
		for _, digits := range []bool{false, true} {
			got := ourSplit(t, p, digits, s)
			if strings.Join(got, "") != s {
				t.Fatalf("%s digits=%v: pieces of %q do not concatenate back: %q", p, digits, s, got)
			}
			valid := replaceInvalid(s)
			if valid != s {
				for k := range got {
					got[k] = replaceInvalid(got[k])
				}
				if want := ourSplit(t, p, digits, valid); !equalStrings(got, want) {
					t.Fatalf("%s digits=%v: invalid bytes of %q split unlike U+FFFD:\n got %q\nwant %q", p, digits, s, got, want)
				}
			}
			if want := referenceSplit(t, p, digits, valid); !equalStrings(got, want) {
				t.Fatalf("%s digits=%v: %q\n got %q\nwant %q", p, digits, valid, got, want)
			}
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// trickyTexts are cases where the patterns' details matter.
var trickyTexts = []string{
	"", " ", "  ", "\n", "\n\n", " \n", "\n ", "a  b", "a   b", "a \tb", "a\t b", "a  \nb", "a\n\n b",
	"trailing   ", "   leading", "x\r\n\r\ny", " \r\n ", "it's", "IT'S", "it'S", "they're We'VE I'M you'LL he'D",
	"''s", " 's", "'ſ", "'x", "\"quoted\"", "don't!!", " !?", "12345 678", " 1 22 333 4444", "x1y2",
	"٣٤ ٥", "Ⅻ roman", "½ frac", "héllo wörld", "日本語のテキスト", "\u00a0nbsp", "a\u00a0\u00a0b", "\u2028x",
	"emoji 🎉🎉 ok", "tab\tsep\tvalues", "\v\f", "end.\n", "a\u3000\u3000b", "mixed123abc", "$100.00", "e.g.\nnew",
}

func TestPreTokenizerTricky(t *testing.T) {
	for _, s := range trickyTexts {
		checkSplit(t, s)
	}
	// Invalid UTF-8: lone continuation bytes, a truncated sequence, an overlong form, bytes 0xFE/0xFF.
	for _, s := range []string{"\x80", "a\xffb", " \xc3", "\xe2\x82", "\xc0\xaf x", "it'\xfes", "1\xfe2", " \xff\xfe!"} {
		checkSplit(t, s)
	}
}

// Spot checks of the semantics, stated by hand, so a reading of the pattern that both sides share would
// still be caught.
func TestPreTokenizerByHand(t *testing.T) {
	cases := []struct {
		p    Pattern
		in   string
		want []string
	}{
		{PatternGPT2, "Hello  world\n\n", []string{"Hello", " ", " world", "\n\n"}},
		{PatternGPT2, "a \tb", []string{"a", " ", "\t", "b"}},
		{PatternGPT2, "I'M it's", []string{"I", "'", "M", " it", "'s"}},
		{PatternGPT4, "I'M it's", []string{"I", "'M", " it", "'s"}},
		{PatternGPT4, "12345 \"hi\"\n\nx", []string{"123", "45", " \"", "hi", "\"\n\n", "x"}},
		{PatternGPT4, "a  \n\n  b", []string{"a", "  \n\n", " ", " b"}},
	}
	for _, c := range cases {
		if got := ourSplit(t, c.p, false, c.in); !equalStrings(got, c.want) {
			t.Errorf("%s %q: got %q, want %q", c.p, c.in, got, c.want)
		}
	}
	if got, want := ourSplit(t, PatternGPT2, true, "in 2024, x9"), []string{"in", " ", "2", "0", "2", "4", ",", " x", "9"}; !equalStrings(got, want) {
		t.Errorf("split_digits: got %q, want %q", got, want)
	}
}

func TestPreTokenizerTiktokenCases(t *testing.T) {
	for _, c := range readTiktokenCases(t) {
		checkSplit(t, c.Text)
	}
}

// TestPreTokenizerCorpora compares the pre-tokens of the first 256 KiB of each shared corpus, whole (so
// that runs of blank lines and spaces across lines are covered).
func TestPreTokenizerCorpora(t *testing.T) {
	for _, name := range []string{"kjv.txt", "fortunes.txt"} {
		data := readShared(t, "data/corpus/"+name)
		n := min(len(data), 256<<10)
		for n < len(data) && !utf8.RuneStart(data[n]) {
			n++
		}
		checkSplit(t, string(data[:n]))
	}
}

func FuzzPreTokenizer(f *testing.F) {
	for _, s := range trickyTexts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkSplit(t, s)
	})
}

type tiktokenCase struct {
	Text string `json:"text"`
	IDs  []int  `json:"ids"`
}

// readTiktokenCases reads ../shared/data/gpt2/tiktoken-gpt2-cases.jsonl: strings with tiktoken's gpt2 ids.
func readTiktokenCases(t testing.TB) []tiktokenCase {
	t.Helper()
	f, err := os.Open(sharedPath(t, "data/gpt2/tiktoken-gpt2-cases.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []tiktokenCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var c tiktokenCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no tiktoken cases")
	}
	return cases
}

// sharedPath returns the data file rel: the repository's own <rel> when it has one (scripts/get-data.sh
// makes data/corpus), else ../shared/<rel> (the shared data beside the repository), skipping the test
// when neither is present.
func sharedPath(t testing.TB, rel string) string {
	t.Helper()
	own, shared := "../"+rel, "../../shared/"+rel
	if _, err := os.Stat(own); err == nil {
		return own
	}
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("data %s not present in the repository (%s) nor in ../shared (%s): %v", rel, own, shared, err)
	}
	return shared
}

func readShared(t testing.TB, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(sharedPath(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
