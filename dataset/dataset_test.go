package dataset

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
)

func TestShardRoundTripBothWidths(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		vocab int
		ids   []uint32
		bytes int64
	}{{4096, []uint32{0, 1, 4095, 17}, 16 + 4*2}, {100_000, []uint32{0, 99_999, 65_536}, 16 + 3*4}} {
		path := filepath.Join(dir, "s.bin")
		if err := WriteShard(path, c.ids, c.vocab); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(path); fi.Size() != c.bytes {
			t.Errorf("vocab %d: file of %d bytes, want %d", c.vocab, fi.Size(), c.bytes)
		}
		got, err := ReadShard(path)
		if err != nil || !reflect.DeepEqual(got, c.ids) {
			t.Errorf("vocab %d: read %v, %v", c.vocab, got, err)
		}
	}
	if err := WriteShard(filepath.Join(dir, "x.bin"), []uint32{70_000}, 4096); err == nil {
		t.Error("an id beyond uint16 must be refused in a uint16 shard")
	}
}

func TestSplitDocuments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.txt")
	os.WriteFile(path, []byte("a fortune\nline two\n%\nsecond\n%\n\n%\nGenesis 1\n\n  1 In the beginning\n"), 0o644)
	docs, err := SplitDocuments(path, regexp.MustCompile(`^\s*%?\s*$`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Document{{path, 1, "a fortune\nline two"}, {path, 4, "second"}, {path, 8, "Genesis 1"}, {path, 10, "  1 In the beginning"}}
	if !reflect.DeepEqual(docs, want) {
		t.Fatalf("got %+v", docs)
	}
}

func TestWindowsResume(t *testing.T) {
	tokens := make([]uint32, 100)
	for i := range tokens {
		tokens[i] = uint32(i)
	}
	a, _ := NewWindows(tokens, 5, 42)
	a.Next()
	state, _ := a.MarshalBinary()
	want := [][]uint32{a.Next(), a.Next()}
	b, _ := NewWindows(tokens, 5, 1)
	if err := b.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	got := [][]uint32{b.Next(), b.Next()}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after restore %v, want %v", got, want)
	}
	for _, w := range want {
		if len(w) != 5 || w[4] != w[0]+4 {
			t.Fatalf("window %v is not 5 consecutive tokens", w)
		}
	}
}
