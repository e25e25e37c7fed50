package textdata

import (
	"fmt"

	"pipeline/tokenizer"
)

// Stats counts what loading a file kept and dropped.
type Stats struct {
	Records   int // records in the file
	Kept      int // examples (or pairs) returned
	Truncated int // sequences cut to the row length
	TokensCut int // tokens cut off them
	NoTargets int // SFT examples dropped: no token carrying loss was left to be a target
	Identical int // pairs dropped: chosen and rejected identical after truncation
}

// String is a one-line summary for the log, e.g.
// "1000 records, 997 kept; 4 sequences truncated (130 tokens cut); 2 without targets, 1 identical pair dropped".
func (s Stats) String() string {
	return fmt.Sprintf("%d records, %d kept; %d sequences truncated (%d tokens cut); %d without targets, %d identical pairs dropped",
		s.Records, s.Kept, s.Truncated, s.TokensCut, s.NoTargets, s.Identical)
}

// truncate cuts s to n tokens, counting it.
func (s *Stats) truncate(seq Sequence, n int) Sequence {
	if len(seq.IDs) > n {
		s.Truncated++
		s.TokensCut += len(seq.IDs) - n
	}
	return seq.Truncate(n)
}

// ReadSFT is ReadFile for SFT data (PromptCompletion or Conversation): a file of preference pairs is
// refused. It is the part of LoadSFT that checks the records, without tokenizing them.
func ReadSFT(path string) (*File, error) {
	f, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	if f.Format == Preference {
		return nil, fmt.Errorf("%s: preference pairs, not SFT data (%s or %s)", path, PromptCompletion, Conversation)
	}
	return f, nil
}

// ReadPairs is ReadFile for preference pairs: a file of another format is refused. It is the part of
// LoadPairs that checks the records, without tokenizing them.
func ReadPairs(path string) (*File, error) {
	f, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	if f.Format != Preference {
		return nil, fmt.Errorf("%s: %s records, not preference pairs (%s)", path, f.Format, Preference)
	}
	return f, nil
}

// LoadSFT reads an SFT file (PromptCompletion or Conversation) into sequences in file order, each cut to
// T+1 tokens, the most a row of T positions uses. An example left with no target is dropped and counted.
func LoadSFT(path string, tok *tokenizer.Tokenizer, T int) ([]Sequence, Stats, error) {
	if T < 1 {
		return nil, Stats{}, fmt.Errorf("%s: rows of %d positions", path, T)
	}
	f, err := ReadSFT(path)
	if err != nil {
		return nil, Stats{}, err
	}
	st := Stats{Records: len(f.Records)}
	var out []Sequence
	for _, r := range f.Records {
		rendered, err := Render(r)
		if err != nil {
			return nil, st, fmt.Errorf("%s: %w", path, err)
		}
		seq, err := Tokenize(tok, rendered)
		if err != nil {
			return nil, st, fmt.Errorf("%s:%d: %w", path, r.Line, err)
		}
		seq = st.truncate(seq, T+1)
		if seq.Targets() == 0 {
			st.NoTargets++
			continue
		}
		out = append(out, seq)
	}
	st.Kept = len(out)
	if len(out) == 0 {
		return nil, st, fmt.Errorf("%s: no example has a target within %d tokens", path, T+1)
	}
	return out, st, nil
}

// LoadPairs reads a Preference file into pairs in file order, each side cut to T tokens so that its
// last real token is an input a reward head can read. A pair whose sides are then identical is dropped
// and counted.
func LoadPairs(path string, tok *tokenizer.Tokenizer, T int) ([]Pair, Stats, error) {
	if T < 1 {
		return nil, Stats{}, fmt.Errorf("%s: rows of %d positions", path, T)
	}
	f, err := ReadPairs(path)
	if err != nil {
		return nil, Stats{}, err
	}
	st := Stats{Records: len(f.Records)}
	var out []Pair
	for _, r := range f.Records {
		p, err := TokenizePair(tok, r)
		if err != nil {
			return nil, st, fmt.Errorf("%s:%d: %w", path, r.Line, err)
		}
		p = Pair{Chosen: st.truncate(p.Chosen, T), Rejected: st.truncate(p.Rejected, T)}
		if p.Identical() {
			st.Identical++
			continue
		}
		out = append(out, p)
	}
	st.Kept = len(out)
	if len(out) == 0 {
		return nil, st, fmt.Errorf("%s: every pair is identical within %d tokens", path, T)
	}
	return out, st, nil
}
