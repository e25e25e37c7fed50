package tokenizer

import (
	"runtime"
	"strings"
	"sync"
)

// Encode returns the ids of text. Special tokens' text is encoded as ordinary text, so that a document
// cannot smuggle in an <|endoftext|>; use EncodeSpecial where special tokens are meant.
func (t *Tokenizer) Encode(text string) []int {
	ids, _ := t.encode(text, false, false)
	return ids
}

// EncodeSpecial is Encode, except that the text of a special token becomes its id. Where two special
// tokens start at the same byte the longer wins.
func (t *Tokenizer) EncodeSpecial(text string) []int {
	ids, _ := t.encode(text, true, false)
	return ids
}

// EncodeOffsets returns the ids of text and, for each, the [start, end) byte span of text it stands for.
// The spans tile text: the first starts at 0, each starts where the previous ended, the last ends at
// len(text). allowSpecial chooses between EncodeSpecial and Encode.
func (t *Tokenizer) EncodeOffsets(text string, allowSpecial bool) (ids []int, spans [][2]int) {
	return t.encode(text, allowSpecial, true)
}

// Decode returns the bytes that ids stand for. An id outside the vocabulary decodes as U+FFFD.
func (t *Tokenizer) Decode(ids []int) []byte {
	var out []byte
	for _, id := range ids {
		if id >= 0 && id < len(t.vocab) && t.vocab[id] != nil {
			out = append(out, t.vocab[id]...)
		} else if text, ok := t.specialText(id); ok {
			out = append(out, text...)
		} else {
			out = append(out, "\uFFFD"...)
		}
	}
	return out
}

func (t *Tokenizer) specialText(id int) (string, bool) {
	for _, s := range t.specials {
		if s.id == id {
			return s.text, true
		}
	}
	return "", false
}

// encode cuts text at special tokens (when allowed) and encodes the ordinary text between them.
func (t *Tokenizer) encode(text string, allowSpecial, withSpans bool) (ids []int, spans [][2]int) {
	ids = make([]int, 0, len(text)/4+1)
	if withSpans {
		spans = make([][2]int, 0, cap(ids))
	}
	if !allowSpecial || len(t.specials) == 0 {
		return t.encodeOrdinary(text, 0, ids, spans, withSpans)
	}
	// next[k] is where special k next occurs at or after pos, or -1; it is searched again only once pos
	// has passed it, so the text is scanned about once per special token, however many there are.
	next := make([]int, len(t.specials))
	for k, s := range t.specials {
		next[k] = indexFrom(text, s.text, 0)
	}
	for pos := 0; pos <= len(text); {
		best := -1
		for k, s := range t.specials {
			if next[k] >= 0 && next[k] < pos {
				next[k] = indexFrom(text, s.text, pos)
			}
			if next[k] >= 0 && (best < 0 || next[k] < next[best] ||
				(next[k] == next[best] && len(s.text) > len(t.specials[best].text))) {
				best = k
			}
		}
		if best < 0 {
			return t.encodeOrdinary(text[pos:], pos, ids, spans, withSpans)
		}
		start := next[best]
		ids, spans = t.encodeOrdinary(text[pos:start], pos, ids, spans, withSpans)
		end := start + len(t.specials[best].text)
		ids = append(ids, t.specials[best].id)
		if withSpans {
			spans = append(spans, [2]int{start, end})
		}
		pos = end
	}
	return ids, spans
}

// indexFrom is the index of the first sub in s at or after from, or -1.
func indexFrom(s, sub string, from int) int {
	if i := strings.Index(s[from:], sub); i >= 0 {
		return from + i
	}
	return -1
}

// parallelMin is the smallest text that encoding splits across goroutines.
const parallelMin = 1 << 20

// encodeOrdinary appends the ids (and spans, shifted by base) of text, without special tokens. Large texts
// are cut at pre-token boundaries into one piece per CPU, encoded in parallel and joined in order, which
// gives exactly the ids of encoding the whole.
func (t *Tokenizer) encodeOrdinary(text string, base int, ids []int, spans [][2]int, withSpans bool) ([]int, [][2]int) {
	cuts := []int{0, len(text)}
	if len(text) >= parallelMin {
		cuts = chunkCuts(text, runtime.GOMAXPROCS(0))
	}
	if len(cuts) == 2 {
		e := t.getEncoder()
		defer t.scratch.Put(e)
		return t.encodeChunk(e, text, base, ids, spans, withSpans)
	}
	type part struct {
		ids   []int
		spans [][2]int
	}
	parts := make([]part, len(cuts)-1)
	var wg sync.WaitGroup
	for k := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := t.getEncoder()
			defer t.scratch.Put(e)
			chunk := text[cuts[k]:cuts[k+1]]
			var sp [][2]int
			if withSpans {
				sp = make([][2]int, 0, len(chunk)/4)
			}
			parts[k].ids, parts[k].spans = t.encodeChunk(e, chunk, base+cuts[k], make([]int, 0, len(chunk)/4), sp, withSpans)
		}()
	}
	wg.Wait()
	for _, p := range parts {
		ids = append(ids, p.ids...)
		spans = append(spans, p.spans...)
	}
	return ids, spans
}

// encodeChunk encodes text one pre-token at a time through the encoder's word cache.
func (t *Tokenizer) encodeChunk(e *encoder, text string, base int, ids []int, spans [][2]int, withSpans bool) ([]int, [][2]int) {
	t.pre.each(text, func(i, j int) {
		word := t.wordIDs(e, text[i:j])
		pos := base + i
		for _, id := range word {
			ids = append(ids, int(id))
			if withSpans {
				end := pos + len(t.vocab[id])
				spans = append(spans, [2]int{pos, end})
				pos = end
			}
		}
	})
	return ids, spans
}

// encoder is one goroutine's scratch: a cache of pre-token -> ids (text repeats its words; most lookups
// hit) and the buffers of bpeWord.
type encoder struct {
	cache map[string][]int32
	syms  []symbol
	heap  candidateHeap
}

const (
	cacheMaxWords = 1 << 16 // the cache is emptied when it holds this many words
	cacheMaxLen   = 64      // longer pre-tokens are rare and not cached
)

func (t *Tokenizer) getEncoder() *encoder {
	if e, ok := t.scratch.Get().(*encoder); ok {
		return e
	}
	return &encoder{cache: make(map[string][]int32)}
}

// wordIDs returns the ids of one pre-token. The slice is owned by the cache: callers copy out of it.
func (t *Tokenizer) wordIDs(e *encoder, word string) []int32 {
	if len(word) > cacheMaxLen {
		return t.bpeWord(e, word, nil)
	}
	if ids, ok := e.cache[word]; ok {
		return ids
	}
	ids := t.bpeWord(e, word, nil)
	if len(e.cache) >= cacheMaxWords {
		clear(e.cache)
	}
	e.cache[strings.Clone(word)] = ids
	return ids
}

// chunkCuts cuts text into about n pieces of similar size at byte offsets where both patterns always
// start a pre-token: a letter right after "\n" (no pattern joins a line break to a following letter, and
// matching restarts there from scratch). It returns the offsets, 0 and len(text) included.
func chunkCuts(text string, n int) []int {
	cuts := []int{0}
	for k := 1; k < n; k++ {
		at := k * len(text) / n
		if at <= cuts[len(cuts)-1] {
			continue
		}
		for at < len(text) && !(isASCIILetter(text[at]) && text[at-1] == '\n') {
			at++
		}
		if at < len(text) {
			cuts = append(cuts, at)
		}
	}
	return append(cuts, len(text))
}

func isASCIILetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
