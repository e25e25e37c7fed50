package rlhf

import "fmt"

// checkLen says which input has the wrong number of elements.
func checkLen(name string, got, want int) error {
	if got != want {
		return fmt.Errorf("%s has %d elements, want %d", name, got, want)
	}
	return nil
}
