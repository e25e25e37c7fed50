package tasks

import (
	"strings"
	"testing"
)

// The opening of kjv.txt as it is on disk: a blank line, the heading, a blank line, wrapped verses.
const genesisStart = `
Genesis 1

  1 In the beginning God created the heaven and the earth.
  2 And the earth was without form, and void; and darkness was upon the face of
the deep. And the Spirit of God moved upon the face of the waters.
  3 And God said, Let there be light: and there was light.
`

var genesis1to3 = []Verse{
	{"Genesis", 1, 1, "In the beginning God created the heaven and the earth."},
	{"Genesis", 1, 2, "And the earth was without form, and void; and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters."},
	{"Genesis", 1, 3, "And God said, Let there be light: and there was light."},
}

func TestParseKJV(t *testing.T) {
	got, err := ParseKJV(strings.NewReader(genesisStart), "kjv.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d verses, want 3: %+v", len(got), got)
	}
	for i, want := range genesis1to3 {
		if got[i] != want {
			t.Errorf("verse %d:\n got %+v\nwant %+v", i, got[i], want)
		}
	}
	if ref := got[2].Ref(); ref != "Genesis 1:3" {
		t.Errorf("Ref() = %q", ref)
	}
}

func TestParseKJVWholeFile(t *testing.T) {
	vs, err := ParseKJVFile(corpusPath(t, "kjv.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 31102 { // the verse count of the King James Bible
		t.Errorf("%d verses, want 31102", len(vs))
	}
	for i, want := range genesis1to3 {
		if vs[i] != want {
			t.Errorf("verse %d:\n got %+v\nwant %+v", i, vs[i], want)
		}
	}
	last := Verse{"Revelation", 22, 21, "The grace of our Lord Jesus Christ be with you all. Amen."}
	if vs[len(vs)-1] != last {
		t.Errorf("last verse %+v, want %+v", vs[len(vs)-1], last)
	}
}

func TestParseKJVErrorsNameFileAndLine(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"\nGenesis 1\n\n  1 In the beginning.\n  3 And God said.\n", "kjv.txt:5: Genesis 1: verse 3 where verse 2 was due"},
		{"\nGenesis 1\n\n  1 A.\n\nGenesis 3\n", "kjv.txt:6: Genesis chapter 3 follows chapter 1"},
		{"\nGenesis 1\n\n  1 A.\n\nnot a heading\n", `kjv.txt:6: want a chapter heading such as "Genesis 1", got "not a heading"`},
		{"\n  1 In the beginning.\n", "kjv.txt:2: verse before the first chapter heading"},
		{"\nGenesis 1\nwrapped text\n", `kjv.txt:3: text outside a verse: "wrapped text"`},
		{"\n\n", "kjv.txt: no verses"},
	} {
		_, err := ParseKJV(strings.NewReader(c.text), "kjv.txt")
		if err == nil || err.Error() != c.want {
			t.Errorf("ParseKJV(%q) error %v, want %q", c.text, err, c.want)
		}
	}
}
