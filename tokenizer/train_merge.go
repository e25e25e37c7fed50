package tokenizer

import "container/heap"

// learnMerges runs BPE training over distinct words with counts until the vocabulary holds wantTokens
// ordinary tokens or no pair occurs minCount times. Byte tokens are ids 0..255.
//
// It keeps, for every adjacent pair, its count summed over words and the words it occurs in. A merge
// visits only the words holding the merged pair and updates the counts of the pairs around each
// occurrence. The most frequent pair comes from a max-heap whose entries may be stale: counts only fall
// after an entry is pushed (a pair only gains at the merge that creates its newer token, when it is first
// pushed), so an entry whose count is out of date is re-pushed with the current count when it reaches
// the top, and the first up-to-date top is the true maximum.
func learnMerges(words []string, counts []int64, wantTokens int, minCount int64, progress func(done, total int)) model {
	m := model{specials: map[int]string{}}
	ids := make(map[string]int32, wantTokens)
	for c := range 256 {
		m.vocab = append(m.vocab, []byte{byte(c)})
		ids[string([]byte{byte(c)})] = int32(c)
	}
	syms := make([][]int32, len(words))
	pairs := make(map[uint64]int64)
	where := make(map[uint64][]int32) // pair -> indices of the words it occurs in (may be stale)
	for w, word := range words {
		s := make([]int32, len(word))
		for k := range len(word) {
			s[k] = int32(word[k])
		}
		syms[w] = s
		for k := 0; k+1 < len(s); k++ {
			key := pairKey(s[k], s[k+1])
			pairs[key] += counts[w]
			where[key] = appendWord(where[key], int32(w))
		}
	}
	q := make(pairQueue, 0, len(pairs))
	for key, n := range pairs {
		q = append(q, pairEntry{count: n, key: key})
	}
	heap.Init(&q)

	total := wantTokens - 256
	for len(m.vocab) < wantTokens && q.Len() > 0 {
		top := heap.Pop(&q).(pairEntry)
		if n := pairs[top.key]; n != top.count {
			if n > 0 {
				heap.Push(&q, pairEntry{count: n, key: top.key})
			}
			continue
		}
		if top.count < minCount {
			break
		}
		a, b := int32(top.key>>32), int32(uint32(top.key))
		joined := string(m.vocab[a]) + string(m.vocab[b])
		id, seen := ids[joined]
		if !seen {
			id = int32(len(m.vocab))
			ids[joined] = id
			m.vocab = append(m.vocab, []byte(joined))
		}
		m.merges = append(m.merges, [2]int32{a, b})
		fresh := make(map[uint64]bool) // pairs whose count this merge raised
		for _, w := range where[top.key] {
			mergeWord(syms, w, a, b, id, counts[w], pairs, where, fresh)
		}
		delete(where, top.key)
		delete(pairs, top.key)
		for key := range fresh { // the heap's order is total, so the order of pushing does not matter
			heap.Push(&q, pairEntry{count: pairs[key], key: key})
		}
		if progress != nil {
			progress(min(len(m.merges), total), total)
		}
	}
	return m
}

// mergeWord replaces every (a, b) in word w, left to right, by id, and moves the word's count from the
// pairs it loses to the pairs it gains. Pairs holding the new id gained: they are recorded in where and
// in fresh.
func mergeWord(syms [][]int32, w, a, b, id int32, count int64, pairs map[uint64]int64,
	where map[uint64][]int32, fresh map[uint64]bool) {
	s := syms[w]
	found := false
	for k := 0; k+1 < len(s); k++ {
		if s[k] == a && s[k+1] == b {
			found = true
			break
		}
	}
	if !found {
		return // a stale entry of where
	}
	for k := 0; k+1 < len(s); k++ {
		pairs[pairKey(s[k], s[k+1])] -= count
	}
	out := s[:0]
	for k := 0; k < len(s); k++ {
		if k+1 < len(s) && s[k] == a && s[k+1] == b {
			out = append(out, id)
			k++
		} else {
			out = append(out, s[k])
		}
	}
	syms[w] = out
	for k := 0; k+1 < len(out); k++ {
		key := pairKey(out[k], out[k+1])
		pairs[key] += count
		if out[k] == id || out[k+1] == id {
			fresh[key] = true
			where[key] = appendWord(where[key], w)
		}
	}
}

// appendWord adds w to a where-list unless it was the last word added. Words are visited in index order,
// so this keeps lists free of repeats; a repeat (possible when a merge reuses an old id) is harmless,
// as mergeWord finds nothing left to merge the second time.
func appendWord(list []int32, w int32) []int32 {
	if n := len(list); n > 0 && list[n-1] == w {
		return list
	}
	return append(list, w)
}

// pairEntry is a pair with the count it had when pushed.
type pairEntry struct {
	count int64
	key   uint64 // pairKey(a, b)
}

// pairQueue is a max-heap by count; among equal counts the smallest (a, b) comes first, which is the
// smallest key since pairKey puts a in the high bits.
type pairQueue []pairEntry

func (q pairQueue) Len() int { return len(q) }
func (q pairQueue) Less(i, j int) bool {
	return q[i].count > q[j].count || (q[i].count == q[j].count && q[i].key < q[j].key)
}
func (q pairQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *pairQueue) Push(x any)   { *q = append(*q, x.(pairEntry)) }
func (q *pairQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
