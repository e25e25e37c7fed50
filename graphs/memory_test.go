package graphs

import (
	"runtime"
	"testing"
)

// TestMemoryFlat: the live heap after 1,000 training steps is within 10% of
// the heap after 100 (buffers are reused, nothing accumulates per step).
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 steps")
	}
	s := newTrainBench(t, 64, 16, 32, 2, 4, 4, 8)
	defer s.m.Close()
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var at100 uint64
	for i := 1; i <= 1000; i++ {
		s.step(t, i)
		if i == 100 {
			at100 = heap()
		}
	}
	at1000 := heap()
	t.Logf("live heap after 100 steps %d B, after 1,000 steps %d B", at100, at1000)
	if float64(at1000) > 1.1*float64(at100) {
		t.Errorf("heap grew from %d B after 100 steps to %d B after 1,000", at100, at1000)
	}
}

// TestStepAllocations: on the bench config one training step allocates less
// than one activation tensor ([B*T, C] floats = 256 kB): our ops own their
// buffers, so what is left is Gorgonia's per-run bookkeeping and goroutines.
func TestStepAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("bench-sized model")
	}
	s := newTrainBench(t, 512, 64, 128, 4, 4, 8, 4)
	defer s.m.Close()
	s.step(t, 0)
	var before, after runtime.MemStats
	const runs = 5
	runtime.ReadMemStats(&before)
	for i := 1; i <= runs; i++ {
		s.step(t, i)
	}
	runtime.ReadMemStats(&after)
	perStep := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("%d B and %d allocations per step", perStep, (after.Mallocs-before.Mallocs)/runs)
	if limit := uint64(8 * 64 * 128 * 4); perStep >= limit {
		t.Errorf("a step allocates %d B, at least one [B*T, C] tensor (%d B)", perStep, limit)
	}
}
