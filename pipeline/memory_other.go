//go:build !linux

package pipeline

// systemMemory is 0, unknown: the memory check is made on Linux only.
func systemMemory() uint64 { return 0 }
