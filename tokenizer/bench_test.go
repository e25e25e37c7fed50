package tokenizer

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// BenchmarkEncodeKJV encodes kjv.txt with GPT-2's merges (reported as MB/s), using all CPUs.
func BenchmarkEncodeKJV(b *testing.B) {
	tok := loadGPT2(b)
	text := string(readShared(b, "data/corpus/kjv.txt"))
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.scratch = sync.Pool{} // every round starts with cold word caches, as a fresh process would
		tok.Encode(text)
	}
}

// BenchmarkTrainKJV trains on kjv.txt to 20,000 tokens.
func BenchmarkTrainKJV(b *testing.B) {
	text := string(readShared(b, "data/corpus/kjv.txt"))
	for b.Loop() {
		if _, err := Train([]string{text}, TrainOptions{VocabSize: 20000}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeLongWord encodes n repeats of one letter (one pre-token) with GPT-2's merges; the time
// per byte should stay nearly flat as n grows tenfold (O(n log n)).
func BenchmarkEncodeLongWord(b *testing.B) {
	tok := loadGPT2(b)
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		text := strings.Repeat("a", n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				tok.Encode(text)
			}
		})
	}
}
