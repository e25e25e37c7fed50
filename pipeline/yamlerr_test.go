package pipeline

import (
	"strconv"
	"testing"
)

// A YAML syntax error is one problem at file:LINE, LINE being where the mistake is: yaml.v3's own numbers
// are 0-based for parser errors and often point at the start of the enclosing block.
func TestYAMLSyntaxErrorsNameTheLine(t *testing.T) {
	cases := []struct {
		name, text string
		line       int
		msg        string
	}{
		{"key indented less than its siblings", "run: x\nmodel:\n    n_layer: 2\n  n_head: 2\nstages: []\n", 4,
			"not valid YAML: did not find expected key (check this line's indentation against the lines above it)"},
		{"stage key indented less, deep in the file", "run: x\nstages:\n  - name: a\n    kind: count\n    steps: 1\n  - name: b\n    kind: count\n   steps: 2\n", 8,
			"not valid YAML: did not find expected '-' indicator (check this line's indentation against the lines above it)"},
		{"key indented more than its siblings", "run: x\nmodel:\n  n_layer: 2\n    n_head: 2\nstages: []\n", 4,
			"not valid YAML: mapping values are not allowed in this context (check this line's indentation against the lines above it)"},
		{"tab as indentation", "run: x\nmodel:\n\tn_layer: 2\nstages: []\n", 3,
			"not valid YAML: found character that cannot start any token (a tab character: YAML indents with spaces only)"},
		{"tab after a plain scalar", "run: x\nstages:\n  - name: a\n    kind: count\n\t  steps: 1\n", 5,
			"not valid YAML: found a tab character that violates indentation (a tab character: YAML indents with spaces only)"},
		{"unclosed flow mapping", "run: x\nmodel: {n_layer: 2\nseed: 3\nstages: []\n", 2,
			"not valid YAML: did not find expected ',' or '}' (a {mapping} that is not closed, or a missing comma)"},
		{"unclosed flow sequence in a stage", "run: x\nseed: 1\nstages:\n  - name: a\n    kind: count\n    data: [a.txt, b.txt\n    steps: 1\n", 6,
			"not valid YAML: did not find expected ',' or ']' (a [list] that is not closed, or a missing comma)"},
		{"unclosed flow sequence on line 1", "stages: [a\nrun: x\nseed: 3\n", 1,
			"not valid YAML: did not find expected ',' or ']' (a [list] that is not closed, or a missing comma)"},
		{"unclosed quote", "run: x\nseed: 1\nout_dir: \"abc\nstages: []\n", 3,
			"not valid YAML: found unexpected end of stream (a quoted string that is not closed)"},
		{"unknown anchor", "run: x\nseed: *nope\n", 2, "not valid YAML: unknown anchor 'nope' referenced"},
		{"first key indented, the rest not", "  run: x\nseed: 1\nstages: []\n", 2,
			"not valid YAML: did not find expected <document start> (this line is indented less than the config's first line)"},
		{"a second document", "run: x\nstages: []\n---\n---\nseed: 1\n", 4,
			"not valid YAML: a second document starts here; a config is one document (check the indentation of the lines above, or remove the ---)"},
	}
	for _, c := range cases {
		path := writeConfig(t, t.TempDir(), c.text)
		_, err := Load(path, nil)
		ps, ok := AsProblems(err)
		if !ok || len(ps) != 1 {
			t.Errorf("%s: want one problem, got %v", c.name, err)
			continue
		}
		want := path + ":" + itoa(c.line) + ": " + c.msg
		if got := ps[0].String(); got != want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, want)
		}
	}
}

// A trailing --- (an empty second document) is harmless.
func TestTrailingDocumentMarkerIsAccepted(t *testing.T) {
	path := writeConfig(t, t.TempDir(), "---\nrun: x\nstages:\n  - name: a\n    kind: count\n    steps: 1\n---\n")
	if _, err := Load(path, nil); err != nil {
		t.Fatal(err)
	}
}

// A key given twice is not a syntax error to yaml.v3's node parser; the strict decoder reports the second
// one with its line and column.
func TestDuplicateKeyNamesTheSecond(t *testing.T) {
	path := writeConfig(t, t.TempDir(), "run: x\nstages:\n  - name: a\n    kind: count\n    steps: 1\n    steps: 2\n")
	_, err := Load(path, nil)
	ps, _ := AsProblems(err)
	if want := path + ":6:5: stages[0].steps: key given twice"; len(ps) != 1 || ps[0].String() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
