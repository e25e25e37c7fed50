package tokenizer

import "unicode/utf8"

// GPT-2's byte-level alphabet maps each of the 256 byte values to a printable Unicode character, so that
// vocabulary and merge files can hold any byte sequence as text: the printable Latin-1 bytes ('!'..'~',
// '¡'..'¬', '®'..'ÿ') map to themselves and the other 68 bytes, in increasing order, to U+0100, U+0101, ...
// Space (0x20) becomes 'Ġ' (U+0120) and newline 'Ċ' (U+010A). This is bytes_to_unicode() of GPT-2's
// encoder.py and the alphabet of Hugging Face's ByteLevel pre-tokenizer.
var byteToRune, runeToByte = byteLevelTables()

func byteLevelTables() (b2r [256]rune, r2b map[rune]byte) {
	r2b = make(map[rune]byte, 256)
	printable := func(b int) bool {
		return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
	}
	next := rune(256)
	for b := 0; b < 256; b++ {
		if printable(b) {
			b2r[b] = rune(b)
		} else {
			b2r[b] = next
			next++
		}
		r2b[b2r[b]] = byte(b)
	}
	return b2r, r2b
}

// byteLevelString spells bytes in the byte-level alphabet: "hi there" -> "hiĠthere".
func byteLevelString(b []byte) string {
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = utf8.AppendRune(out, byteToRune[c])
	}
	return string(out)
}

// byteLevelBytes reverses byteLevelString; ok is false when s holds a character outside the alphabet.
func byteLevelBytes(s string) (b []byte, ok bool) {
	b = make([]byte, 0, len(s))
	for _, r := range s {
		c, in := runeToByte[r]
		if !in {
			return nil, false
		}
		b = append(b, c)
	}
	return b, true
}
