package tasks

import (
	"os"
	"path/filepath"
	"testing"
)

// corpusPath returns the path of corpus file name (kjv.txt, fortunes.txt): the repository's
// data/corpus/<name> (which scripts/get-data.sh makes), else ../shared/data/corpus/<name> beside the
// repository; it skips the test when neither exists.
func corpusPath(t testing.TB, name string) string {
	t.Helper()
	candidates := []string{
		filepath.Join("..", "data", "corpus", name),
		filepath.Join("..", "..", "shared", "data", "corpus", name),
	}
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skipf("corpus %s not found in %s nor %s (run bash scripts/get-data.sh)", name, candidates[0], candidates[1])
	return ""
}
