package tokenizer

// bpeWord appends to out the ids of one pre-token's bytes after applying the merges, lowest rank first
// and, among equal ranks, leftmost first (the result of GPT-2's encoder.py bpe() and Hugging Face's BPE).
//
// The pre-token's bytes are a linked list of symbols, and a min-heap holds candidate merges of adjacent
// symbols keyed by (rank, left position). Popping a candidate that is stale (a side was merged away since)
// costs nothing; each merge pushes at most two new candidates. So a word of n bytes takes O(n log n), and
// 100,000 repeats of one letter encode in well under a second instead of the O(n²) of rescanning.
func (t *Tokenizer) bpeWord(e *encoder, word string, out []int32) []int32 {
	if len(word) == 1 {
		return append(out, t.byteID[word[0]])
	}
	syms := e.syms[:0]
	for k := 0; k < len(word); k++ {
		syms = append(syms, symbol{id: t.byteID[word[k]], prev: int32(k - 1), next: int32(k + 1)})
	}
	syms[len(syms)-1].next = -1
	h := e.heap[:0]
	for k := 0; k+1 < len(syms); k++ {
		if r, ok := t.ranks[pairKey(syms[k].id, syms[k+1].id)]; ok {
			h = h.push(candidate{rank: r, pos: int32(k)})
		}
	}
	for len(h) > 0 {
		var c candidate
		h, c = h.pop()
		s := &syms[c.pos]
		if s.id < 0 || s.next < 0 {
			continue // merged away, or now the last symbol
		}
		right := &syms[s.next]
		if r, ok := t.ranks[pairKey(s.id, right.id)]; !ok || r != c.rank {
			continue // a neighbour changed since this candidate was pushed
		}
		s.id = t.merges[c.rank].id
		right.id = -1
		s.next = right.next
		if s.next >= 0 {
			syms[s.next].prev = c.pos
			if r, ok := t.ranks[pairKey(s.id, syms[s.next].id)]; ok {
				h = h.push(candidate{rank: r, pos: c.pos})
			}
		}
		if s.prev >= 0 {
			if r, ok := t.ranks[pairKey(syms[s.prev].id, s.id)]; ok {
				h = h.push(candidate{rank: r, pos: s.prev})
			}
		}
	}
	for k := int32(0); k >= 0; k = syms[k].next {
		out = append(out, syms[k].id)
	}
	e.syms, e.heap = syms, h
	return out
}

// symbol is one token of a word being merged; id is -1 once merged into its left neighbour.
type symbol struct{ id, prev, next int32 }

// candidate is a possible merge of the symbol at pos with its right neighbour.
type candidate struct{ rank, pos int32 }

func (c candidate) less(d candidate) bool {
	return c.rank < d.rank || (c.rank == d.rank && c.pos < d.pos)
}

// candidateHeap is a binary min-heap by (rank, pos), kept as a plain slice to reuse its memory.
type candidateHeap []candidate

func (h candidateHeap) push(c candidate) candidateHeap {
	h = append(h, c)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func (h candidateHeap) pop() (candidateHeap, candidate) {
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && h[l].less(h[m]) {
			m = l
		}
		if l+1 < n && h[l+1].less(h[m]) {
			m = l + 1
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	return h, top
}
