package tasks

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Verse is one verse of the King James Bible.
type Verse struct {
	Book    string // "Genesis", "1 Samuel", "Song of Solomon"
	Chapter int
	Number  int
	Text    string // whitespace collapsed to single spaces
}

// Ref is the verse's usual reference: "Genesis 1:3".
func (v Verse) Ref() string { return fmt.Sprintf("%s %d:%d", v.Book, v.Chapter, v.Number) }

var (
	headingRE = regexp.MustCompile(`^(\S.*) ([0-9]+)$`)    // "1 Samuel 3"
	verseRE   = regexp.MustCompile(`^\s+([0-9]+) (\S.*)$`) // "  2 And the earth was without form, ..."
)

// ParseKJV reads the corpus format of kjv.txt: a chapter heading ("Genesis 1") after a blank line, then
// the chapter's verses, each starting on an indented line with its number and wrapped over lines:
//
//	Genesis 1
//
//	  1 In the beginning God created the heaven and the earth.
//	  2 And the earth was without form, and void; and darkness was upon the face of
//	the deep. And the Spirit of God moved upon the face of the waters.
//
// gives Verse{"Genesis", 1, 1, "In the beginning God created the heaven and the earth."} and
// Verse{"Genesis", 1, 2, "And the earth was without form, and void; and darkness was upon the face of
// the deep. And the Spirit of God moved upon the face of the waters."}. Chapters must run 1, 2, ... in
// each book and verses 1, 2, ... in each chapter; anything else is an error naming name and the line.
func ParseKJV(r io.Reader, name string) ([]Verse, error) {
	var (
		verses  []Verse
		text    []string // the lines of the verse being read
		book    string
		chapter int
		blank   = true // the previous line was blank (or there was none)
	)
	flush := func() {
		if len(text) > 0 {
			verses[len(verses)-1].Text = strings.Join(strings.Fields(strings.Join(text, " ")), " ")
			text = text[:0]
		}
	}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimRight(sc.Text(), " \t\r")
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...))
		}
		switch {
		case s == "":
			blank = true
			continue
		case blank && !strings.HasPrefix(s, " ") && !strings.HasPrefix(s, "\t"):
			m := headingRE.FindStringSubmatch(s)
			if m == nil {
				return nil, bad("want a chapter heading such as \"Genesis 1\", got %q", s)
			}
			flush()
			n, _ := strconv.Atoi(m[2])
			want := chapter + 1
			if m[1] != book {
				want = 1
			}
			if n != want {
				return nil, bad("%s chapter %d follows chapter %d", m[1], n, chapter)
			}
			book, chapter = m[1], n
		case verseRE.MatchString(s):
			m := verseRE.FindStringSubmatch(s)
			if book == "" {
				return nil, bad("verse before the first chapter heading")
			}
			n, _ := strconv.Atoi(m[1])
			want := 1
			if last := len(verses) - 1; last >= 0 && verses[last].Book == book && verses[last].Chapter == chapter {
				want = verses[last].Number + 1
			}
			if n != want {
				return nil, bad("%s %d: verse %d where verse %d was due", book, chapter, n, want)
			}
			flush()
			verses = append(verses, Verse{Book: book, Chapter: chapter, Number: n})
			text = append(text, m[2])
		default:
			if len(text) == 0 {
				return nil, bad("text outside a verse: %q", s)
			}
			text = append(text, s)
		}
		blank = false
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	flush()
	if len(verses) == 0 {
		return nil, fmt.Errorf("%s: no verses", name)
	}
	return verses, nil
}

// ParseKJVFile is ParseKJV on the file at path.
func ParseKJVFile(path string) ([]Verse, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseKJV(f, path)
}
