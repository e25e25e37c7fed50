package textdata

import (
	"strings"
	"testing"
)

// TestLoadSFT: sequences are cut to T+1 = 9 tokens; line 2's prompt alone fills them, so it has no
// target left and is dropped; line 3 keeps two of its four loss tokens.
func TestLoadSFT(t *testing.T) {
	tok := testTokenizer(t)
	path := writeFile(t, "sft.jsonl", `{"prompt": "ab", "completion": "cd"}
{"prompt": "abcdefghij", "completion": "k"}
{"prompt": "abcdefg", "completion": "hij"}
`)
	seqs, st, err := LoadSFT(path, tok, 8)
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Records: 3, Kept: 2, Truncated: 2, TokensCut: 3 + 2, NoTargets: 1}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	if len(seqs) != 2 {
		t.Fatalf("%d sequences, want 2", len(seqs))
	}
	checkSlice(t, "line 1", seqs[0].IDs, []int{'a', 'b', 'c', 'd', idEOT})
	checkSlice(t, "line 3", seqs[1].IDs, bytesIDs("abcdefghi"))
	checkSlice(t, "line 3 loss", seqs[1].Loss, []bool{false, false, false, false, false, false, false, true, true})
	if s := st.String(); s != "3 records, 2 kept; 2 sequences truncated (5 tokens cut); 1 without targets, 0 identical pairs dropped" {
		t.Errorf("String = %q", s)
	}
}

// TestLoadWrongFormat: each loader refuses the other's files, naming the file.
func TestLoadWrongFormat(t *testing.T) {
	tok := testTokenizer(t)
	prefs := writeFile(t, "prefs.jsonl", `{"prompt": "p", "chosen": "a", "rejected": "b"}`+"\n")
	if _, _, err := LoadSFT(prefs, tok, 8); err == nil || !strings.HasPrefix(err.Error(), prefs+": preference pairs, not SFT data") {
		t.Errorf("LoadSFT(prefs) error %v", err)
	}
	sft := writeFile(t, "sft.jsonl", `{"prompt": "p", "completion": "a"}`+"\n")
	if _, _, err := LoadPairs(sft, tok, 8); err == nil || !strings.HasPrefix(err.Error(), sft+": prompt/completion records, not preference pairs") {
		t.Errorf("LoadPairs(sft) error %v", err)
	}
	long := writeFile(t, "long.jsonl", `{"prompt": "pq", "completion": "a"}`+"\n")
	if _, _, err := LoadSFT(long, tok, 1); err == nil || err.Error() != long+": no example has a target within 2 tokens" {
		t.Errorf("LoadSFT with nothing left: error %v", err)
	}
}

// TestReadSFTAndPairs: ReadSFT and ReadPairs make LoadSFT's and LoadPairs' checks of a file, its lines
// and its format, without a tokenizer.
func TestReadSFTAndPairs(t *testing.T) {
	prefs := writeFile(t, "prefs.jsonl", `{"prompt": "p", "chosen": "a", "rejected": "b"}`+"\n")
	sft := writeFile(t, "sft.jsonl", `{"prompt": "p", "completion": "a"}`+"\n")
	if f, err := ReadSFT(sft); err != nil || len(f.Records) != 1 || f.Format != PromptCompletion {
		t.Errorf("ReadSFT(sft) = %+v, %v", f, err)
	}
	if f, err := ReadPairs(prefs); err != nil || len(f.Records) != 1 || f.Format != Preference {
		t.Errorf("ReadPairs(prefs) = %+v, %v", f, err)
	}
	if _, err := ReadSFT(prefs); err == nil || err.Error() != prefs+": preference pairs, not SFT data (prompt/completion or messages)" {
		t.Errorf("ReadSFT(prefs) error %v", err)
	}
	if _, err := ReadPairs(sft); err == nil || err.Error() != sft+": prompt/completion records, not preference pairs (prompt/chosen/rejected)" {
		t.Errorf("ReadPairs(sft) error %v", err)
	}
	bad := writeFile(t, "bad.jsonl", `{"prompt": "p", "completion": "a"}`+"\n"+`{"prompt": "p"}`+"\n")
	if _, err := ReadSFT(bad); err == nil || err.Error() != bad+`:2: field "completion": missing` {
		t.Errorf("ReadSFT(bad) error %v", err)
	}
}
