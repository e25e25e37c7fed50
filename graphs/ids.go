package graphs

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseIDs parses rows of token ids written as the reference's --ids flag:
// rows separated by ';', ids by ','; spaces and empty ids are ignored (as
// gpt2_ref.py does). Every row must hold the same, non-zero number of ids,
// each >= 0.
func ParseIDs(s string) ([][]int, error) {
	var rows [][]int
	for i, r := range strings.Split(s, ";") {
		var row []int
		for _, f := range strings.Split(r, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			id, err := strconv.Atoi(f)
			if err != nil || id < 0 {
				return nil, fmt.Errorf("ids: row %d: %q is not a token id", i, f)
			}
			row = append(row, id)
		}
		if len(row) == 0 {
			return nil, fmt.Errorf("ids: row %d is empty", i)
		}
		if len(rows) > 0 && len(row) != len(rows[0]) {
			return nil, fmt.Errorf("ids: row %d has %d ids, row 0 has %d (all rows must have the same length)", i, len(row), len(rows[0]))
		}
		rows = append(rows, row)
	}
	return rows, nil
}
