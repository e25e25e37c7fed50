package optim

import (
	"errors"
	"fmt"
	"strings"
)

// Spec names one tensor of the flat parameter slab: its name, its shape, and the range
// [Offset, Offset+Size) it occupies in the parameter and gradient slabs. The fields are in the
// order of graphs.ParamInfo, so a layout entry converts with optim.Spec(info).
type Spec struct {
	Name   string
	Shape  []int
	Offset int
	Size   int
}

// checkLayout verifies that specs tile the slab [0, n) in order, with no gap and no overlap, each
// Size equal to the product of its Shape and each name unique, and returns n.
func checkLayout(specs []Spec) (int, error) {
	if len(specs) == 0 {
		return 0, errors.New("optim: no tensors to optimise")
	}
	seen := make(map[string]bool, len(specs))
	n := 0
	for _, s := range specs {
		if s.Name == "" || seen[s.Name] {
			return 0, fmt.Errorf("optim: tensor name %q is empty or repeated", s.Name)
		}
		seen[s.Name] = true
		size := 1
		for _, d := range s.Shape {
			if d <= 0 {
				return 0, fmt.Errorf("optim: tensor %s has shape %v", s.Name, s.Shape)
			}
			size *= d
		}
		if s.Size != size {
			return 0, fmt.Errorf("optim: tensor %s has size %d, its shape %v holds %d", s.Name, s.Size, s.Shape, size)
		}
		if s.Offset != n {
			return 0, fmt.Errorf("optim: tensor %s starts at %d, the previous tensor ends at %d", s.Name, s.Offset, n)
		}
		n += size
	}
	return n, nil
}

// isEmbedding reports whether name is one of GPT-2's embedding tables, wte.weight (token; also the
// output head when tied) or wpe.weight (position), with or without the "transformer." prefix.
func isEmbedding(name string) bool {
	name = strings.TrimPrefix(name, "transformer.")
	return name == "wte.weight" || name == "wpe.weight"
}
