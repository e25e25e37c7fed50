package sample

import "testing"

func TestStopAt(t *testing.T) {
	cases := []struct {
		text    string
		stops   []string
		cut     int
		stopped bool
	}{
		{"4\nQ: next", []string{"Q:", "\n\n"}, 2, true},
		{"ab\n\ncd Q:", []string{"Q:", "\n\n"}, 2, true}, // the earliest match wins, not the first listed
		{"abc", []string{"abc"}, 0, true},
		{"abc", []string{"bcd", ""}, 3, false}, // a partial match at the end is not a stop; "" is ignored
		{"", []string{"x"}, 0, false},
		{"héllo<|user|>", []string{"<|user|>"}, 6, true}, // byte offsets: é takes two bytes
	}
	for _, c := range cases {
		cut, stopped := StopAt([]byte(c.text), c.stops)
		if cut != c.cut || stopped != c.stopped {
			t.Errorf("StopAt(%q, %q) = %d, %v; want %d, %v", c.text, c.stops, cut, stopped, c.cut, c.stopped)
		}
	}
}
