package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// metadataKey is the header key that holds the free-form string metadata instead of a tensor.
const metadataKey = "__metadata__"

// maxRank bounds the number of dimensions, as numpy does (64), so that a hostile header cannot
// make one shape array cost many times its size in memory.
const maxRank = 64

// entry is one tensor's record in the header, before its offsets are checked against the others.
type entry struct {
	name       string
	dtype      DType
	shape      []int
	begin, end uint64
}

// decodeHeader decodes the JSON header token by token, so that it can reject what encoding/json
// would let through silently: duplicate keys (at any level), unknown or missing tensor fields,
// metadata values that are not strings, numbers that are not non-negative integers, and invalid
// UTF-8. It checks each tensor's record on its own; layout checks them against each other.
func decodeHeader(hdr []byte) ([]entry, map[string]string, error) {
	if !utf8.Valid(hdr) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, nil, errors.New("header does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if err := expectDelim(dec, '{', "header"); err != nil {
		return nil, nil, err
	}
	meta := map[string]string{}
	var entries []entry
	seen := map[string]bool{}
	for dec.More() {
		key, err := stringToken(dec, "header key")
		if err != nil {
			return nil, nil, err
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("header has key %q twice", key)
		}
		seen[key] = true
		if key == metadataKey {
			if meta, err = decodeMetadata(dec); err != nil {
				return nil, nil, err
			}
			continue
		}
		e, err := decodeEntry(dec, key)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if err := expectDelim(dec, '}', "header"); err != nil {
		return nil, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("header has more than whitespace after its JSON object (at byte %d)", dec.InputOffset())
	}
	return entries, meta, nil
}

// decodeMetadata decodes the __metadata__ object: string keys, each once, to string values.
func decodeMetadata(dec *json.Decoder) (map[string]string, error) {
	if err := expectDelim(dec, '{', metadataKey); err != nil {
		return nil, err
	}
	meta := map[string]string{}
	for dec.More() {
		key, err := stringToken(dec, metadataKey+" key")
		if err != nil {
			return nil, err
		}
		if _, dup := meta[key]; dup {
			return nil, fmt.Errorf("%s has key %q twice", metadataKey, key)
		}
		if meta[key], err = stringToken(dec, fmt.Sprintf("%s value of %q", metadataKey, key)); err != nil {
			return nil, err
		}
	}
	return meta, expectDelim(dec, '}', metadataKey)
}

// decodeEntry decodes one tensor's record: exactly the fields dtype (a known dtype), shape (an array
// of non-negative integers) and data_offsets (an array of two), each once.
func decodeEntry(dec *json.Decoder, name string) (entry, error) {
	e := entry{name: name}
	what := "tensor " + strconv.Quote(name)
	if err := expectDelim(dec, '{', what); err != nil {
		return e, err
	}
	seen := map[string]bool{}
	for dec.More() {
		field, err := stringToken(dec, what+" field name")
		if err != nil {
			return e, err
		}
		if seen[field] {
			return e, fmt.Errorf("%s has field %q twice", what, field)
		}
		seen[field] = true
		switch field {
		case "dtype":
			s, err := stringToken(dec, what+" dtype")
			if err != nil {
				return e, err
			}
			if e.dtype = DType(s); e.dtype.Size() == 0 {
				return e, fmt.Errorf("%s has unknown dtype %q", what, s)
			}
		case "shape":
			dims, err := uintArray(dec, what+" shape", maxRank)
			if err != nil {
				return e, err
			}
			e.shape = make([]int, len(dims))
			for i, d := range dims {
				if d > math.MaxInt {
					return e, fmt.Errorf("%s shape has dimension %d, too large", what, d)
				}
				e.shape[i] = int(d)
			}
		case "data_offsets":
			offs, err := uintArray(dec, what+" data_offsets", 2)
			if err != nil {
				return e, err
			}
			if len(offs) != 2 {
				return e, fmt.Errorf("%s data_offsets %v is not [begin, end]", what, offs)
			}
			e.begin, e.end = offs[0], offs[1]
		default:
			return e, fmt.Errorf("%s has unknown field %q", what, field)
		}
	}
	for _, field := range []string{"dtype", "shape", "data_offsets"} {
		if !seen[field] {
			return e, fmt.Errorf("%s has no %s", what, field)
		}
	}
	return e, expectDelim(dec, '}', what)
}

// uintArray decodes a JSON array of at most limit non-negative integers written without fraction
// or exponent.
func uintArray(dec *json.Decoder, what string, limit int) ([]uint64, error) {
	if err := expectDelim(dec, '[', what); err != nil {
		return nil, err
	}
	var out []uint64
	for dec.More() {
		if len(out) == limit {
			return nil, fmt.Errorf("%s has more than %d numbers", what, limit)
		}
		tok, err := token(dec)
		if err != nil {
			return nil, err
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s holds %s, not a number", what, tokenText(tok))
		}
		v, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s holds %s, not a non-negative 64-bit integer", what, num)
		}
		out = append(out, v)
	}
	return out, expectDelim(dec, ']', what)
}

// stringToken reads the next token and requires a JSON string; what names it in the error.
func stringToken(dec *json.Decoder, what string) (string, error) {
	tok, err := token(dec)
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%s is %s, not a string", what, tokenText(tok))
	}
	return s, nil
}

// expectDelim reads the next token and requires the delimiter want ('{', '}', '[' or ']').
func expectDelim(dec *json.Decoder, want json.Delim, what string) error {
	tok, err := token(dec)
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("%s: found %s where %v was expected", what, tokenText(tok), want)
	}
	return nil
}

// token reads the next JSON token, turning a syntax error or an early end into an error that says
// the header is not valid JSON and where.
func token(dec *json.Decoder) (json.Token, error) {
	tok, err := dec.Token()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, fmt.Errorf("header is not valid JSON: %v (at byte %d)", err, dec.InputOffset())
	}
	return tok, nil
}

// tokenText writes a token back roughly as it appeared in the JSON, for error messages.
func tokenText(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(v)
	}
	return fmt.Sprint(tok)
}
