package sample

import "bytes"

// StopAt looks for the earliest occurrence in text of any of the stop strings. If one occurs,
// stopped is true and text[:cut] is the text before it (the stop string is not part of the
// output); otherwise cut = len(text). Empty stop strings are ignored.
// Example: StopAt([]byte("4\nQ: next"), []string{"Q:", "\n\n"}) = 2, true.
func StopAt(text []byte, stops []string) (cut int, stopped bool) {
	cut = len(text)
	for _, stop := range stops {
		if stop == "" {
			continue
		}
		if i := bytes.Index(text, []byte(stop)); i >= 0 && i < cut {
			cut, stopped = i, true
		}
	}
	return cut, stopped
}
