package tasks

import (
	"sort"
	"strings"
	"unicode"
)

// corpus is the parsed KJV as the verse tasks see it: chapter by chapter, plus every verse text in sorted
// order so that repeated verses and shared openings can be counted.
type corpus struct {
	chapters [][]Verse
	sorted   []string
}

// place is one verse of the corpus: chapter ch, index i within it (verse number i+1).
type place struct{ ch, i int }

func newCorpus(verses []Verse) *corpus {
	c := &corpus{sorted: make([]string, len(verses))}
	for i, v := range verses {
		c.sorted[i] = v.Text
		n := len(c.chapters)
		if n == 0 || c.chapters[n-1][0].Book != v.Book || c.chapters[n-1][0].Chapter != v.Chapter {
			c.chapters = append(c.chapters, nil)
			n++
		}
		c.chapters[n-1] = append(c.chapters[n-1], v)
	}
	sort.Strings(c.sorted)
	return c
}

func (c *corpus) verse(p place) Verse { return c.chapters[p.ch][p.i] }

// unique reports whether s is the text of exactly one verse and no other verse starts with s followed by
// a space: a question made of s then has one right answer. ("And the LORD spake unto Moses, saying," is
// dozens of verses and never a question.)
func (c *corpus) unique(s string) bool {
	lo := sort.SearchStrings(c.sorted, s)
	n := 0
	for i := lo; i < len(c.sorted) && strings.HasPrefix(c.sorted[i], s) && n < 2; i++ {
		if rest := c.sorted[i][len(s):]; rest == "" || rest[0] == ' ' {
			n++
		}
	}
	return n == 1
}

// places lists every verse of the corpus with at most maxWords words: where distractors and wrong answers
// are drawn from.
func (c *corpus) places(maxWords int) []place {
	var out []place
	for ch, vs := range c.chapters {
		for i, v := range vs {
			if wordCount(v.Text) <= maxWords {
				out = append(out, place{ch, i})
			}
		}
	}
	return out
}

// wordCount is len(strings.Fields(s)) without building the fields.
func wordCount(s string) int {
	n, inWord := 0, false
	for _, r := range s {
		space := unicode.IsSpace(r)
		if !space && !inWord {
			n++
		}
		inWord = !space
	}
	return n
}
