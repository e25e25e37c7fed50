package pipeline

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseYAML parses data as one YAML document. A syntax error comes back as a Problem placed at
// "file:LINE", the line a person has to look at.
//
// yaml.v3's own "yaml: line N: ..." cannot be trusted for that: for parser (as opposed to scanner) errors N
// is 0-based, and for both N is often the line where the enclosing collection or scalar began rather than the
// line of the mistake (a bad indent deep in a stage is reported at the start of `stages:`), and an error on
// the first line, or an unknown anchor, has no line at all. So the line is found by parsing growing prefixes
// of the file: the first prefix that fails with the same error ends on the line where the mistake is (for a
// flow list or mapping, or a quoted string, that is never closed: the line that opened it).
func parseYAML(file string, data []byte) (*yaml.Node, *Problem) {
	docs, err := parseDocuments(data)
	if err == nil {
		switch len(docs) {
		case 0:
			return &yaml.Node{Kind: yaml.DocumentNode}, nil
		case 1:
			return docs[0], nil
		}
		// yaml.v3's Decode reads one document and would drop the rest without a word.
		return nil, &Problem{Where: fmt.Sprintf("%s:%d", file, docs[1].Line),
			Msg: "not valid YAML: a second document starts here; a config is one document (check the indentation of the lines above, or remove the ---)"}
	}
	line := syntaxErrorLine(data, err)
	msg := yamlProblem.ReplaceAllString(err.Error(), "")
	if hint := syntaxHint(msg, lineText(data, line)); hint != "" {
		msg += " (" + hint + ")"
	}
	return nil, &Problem{Where: fmt.Sprintf("%s:%d", file, line), Msg: "not valid YAML: " + msg}
}

// parseDocuments parses every YAML document in data, leaving out empty ones.
func parseDocuments(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err == io.EOF {
			return docs, nil
		} else if err != nil {
			return nil, err
		}
		if len(doc.Content) == 1 && doc.Content[0].Tag == "!!null" && doc.Content[0].Value == "" {
			continue // an empty document: a lone --- at the end, say
		}
		docs = append(docs, &doc)
	}
}

// yamlProblem matches the prefix yaml.v3 puts before its message: "yaml: " and maybe "line N: ".
var yamlProblem = regexp.MustCompile(`^yaml: (line [0-9]+: )?`)

// syntaxErrorLine returns the 1-based line of the YAML syntax error err that parsing data gave.
func syntaxErrorLine(data []byte, err error) int {
	want := err.Error()
	end := 0
	for line := 1; end < len(data); line++ {
		if nl := bytes.IndexByte(data[end:], '\n'); nl >= 0 {
			end += nl + 1
		} else {
			end = len(data)
		}
		if _, e := parseDocuments(data[:end]); e != nil && e.Error() == want {
			return line
		}
	}
	// Not reproduced by any prefix (it should be): yaml.v3's own number is all there is.
	m := regexp.MustCompile(`^yaml: line ([0-9]+): `).FindStringSubmatch(want)
	if m == nil {
		return 1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// lineText returns the 1-based line n of data, without its newline.
func lineText(data []byte, n int) string {
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return lines[n-1]
}

// syntaxHint says in a config writer's words what usually causes a yaml.v3 syntax error.
func syntaxHint(msg, line string) string {
	switch {
	case strings.Contains(line, "\t") && (strings.Contains(msg, "tab") || strings.Contains(msg, "cannot start any token")):
		return "a tab character: YAML indents with spaces only"
	case strings.Contains(msg, "expected ',' or ']'"):
		return "a [list] that is not closed, or a missing comma"
	case strings.Contains(msg, "expected ',' or '}'"):
		return "a {mapping} that is not closed, or a missing comma"
	case strings.Contains(msg, "did not find expected key"), strings.Contains(msg, "did not find expected '-' indicator"),
		strings.Contains(msg, "mapping values are not allowed"):
		return "check this line's indentation against the lines above it"
	case strings.Contains(msg, "found unexpected end of stream") && strings.ContainsAny(line, `"'`):
		return "a quoted string that is not closed"
	case strings.Contains(msg, "expected <document start>"):
		return "this line is indented less than the config's first line"
	case strings.Contains(msg, "could not find expected ':'"):
		return "a key without ':', or a key split over lines"
	}
	return ""
}
