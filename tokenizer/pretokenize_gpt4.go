package tokenizer

// nextGPT4 returns the end of the GPT4Regex (cl100k_base) match at s[i], trying the alternatives in order:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)    a contraction, any case
//	[^\r\n\p{L}\p{N}]?\p{L}+        letters, after at most one character that is not \r, \n, letter, number
//	\p{N}{1,3}                      one to three numbers
//	 ?[^\s\p{L}\p{N}]+[\r\n]*       an optional space, "other" characters, then any line breaks
//	\s*[\r\n]+                      whitespace up to and including its last line break
//	\s+(?!\S)|\s+                   whitespace, leaving its last character to a following non-space
func nextGPT4(s string, i int) int {
	if s[i] == '\'' {
		if n := contraction(s, i, true); n > 0 {
			return i + n
		}
	}
	c, n := classAt(s, i)
	switch c {
	case classLetter:
		return runEnd(s, i, classLetter)
	case classNumber:
		j := i
		for k := 0; k < 3 && j < len(s); k++ {
			cj, nj := classAt(s, j)
			if cj != classNumber {
				break
			}
			j += nj
		}
		return j
	}
	// c is other or space here.
	if s[i] != '\r' && s[i] != '\n' && i+n < len(s) {
		if next, _ := classAt(s, i+n); next == classLetter {
			return runEnd(s, i+n, classLetter) // "'word", " word", "\tword"
		}
	}
	if c == classOther {
		return lineBreaksEnd(s, runEnd(s, i, classOther))
	}
	if s[i] == ' ' && i+1 < len(s) {
		if next, _ := classAt(s, i+1); next == classOther {
			return lineBreaksEnd(s, runEnd(s, i+1, classOther))
		}
	}
	j := runEnd(s, i, classSpace)
	for k := j - 1; k >= i; k-- {
		if s[k] == '\r' || s[k] == '\n' {
			return k + 1
		}
	}
	return spaceEnd(s, i, j)
}

// lineBreaksEnd returns the end of the run of \r and \n at i.
func lineBreaksEnd(s string, i int) int {
	for i < len(s) && (s[i] == '\r' || s[i] == '\n') {
		i++
	}
	return i
}
