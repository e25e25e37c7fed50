package tokenizer

// nextGPT2 returns the end of the GPT2Regex match at s[i], trying the alternatives in the pattern's order:
//
//	's|'t|'re|'ve|'m|'ll|'d         a contraction, case-sensitive
//	 ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+   an optional space, then a run of one class
//	\s+(?!\S)|\s+                   whitespace, leaving its last character to a following non-space
//
// Every character is a letter, a number, a space or "other", so one of the alternatives always matches.
func nextGPT2(s string, i int) int {
	if s[i] == '\'' {
		if n := contraction(s, i, false); n > 0 {
			return i + n
		}
	}
	c, _ := classAt(s, i)
	if c == classSpace {
		if s[i] == ' ' && i+1 < len(s) {
			if next, _ := classAt(s, i+1); next != classSpace {
				return runEnd(s, i+1, next) // " word", " 42", " !?"
			}
		}
		return spaceEnd(s, i, runEnd(s, i, classSpace))
	}
	return runEnd(s, i, c)
}
