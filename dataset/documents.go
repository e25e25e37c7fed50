package dataset

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/fnv"
	"os"
	"regexp"
	"strings"
)

// Document is a piece of corpus text trained as a whole: documents are split between training and
// validation, and joined by the end-of-text token.
type Document struct {
	File string
	Line int // first line, 1-based
	Text string
}

// SplitDocuments cuts a file into documents at every line that matches sep (the line itself is dropped),
// keeping non-empty documents. With sep `^\s*%?\s*$` a KJV chapter or a fortune is one document.
func SplitDocuments(path string, sep *regexp.Regexp) ([]Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var docs []Document
	var cur strings.Builder
	start, line := 0, 0
	flush := func() {
		if text := strings.TrimRight(cur.String(), "\n"); strings.TrimSpace(text) != "" {
			docs = append(docs, Document{File: path, Line: start, Text: text})
		}
		cur.Reset()
		start = 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for sc.Scan() {
		line++
		if sep.Match(sc.Bytes()) {
			flush()
			continue
		}
		if start == 0 {
			start = line
		}
		cur.Write(sc.Bytes())
		cur.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", path, line, err)
	}
	flush()
	return docs, nil
}

// IsValidation decides a document's split from a hash of the seed and its text, so the split does not
// depend on the order of files and stays put when documents are added elsewhere.
func IsValidation(doc Document, seed int64, fraction float64) bool {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s", seed, doc.Text)
	return float64(h.Sum64()>>11)/float64(1<<53) < fraction
}
