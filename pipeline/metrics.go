package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// Metrics appends one JSON object per logged step to a stage's metrics.jsonl.
type Metrics struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// OpenMetrics opens (or creates) path for appending.
func OpenMetrics(path string) (*Metrics, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &Metrics{path: path, f: f}, nil
}

// Log writes one record. Keys are written in sorted order, so equal records give equal lines.
func (m *Metrics) Log(record map[string]any) error {
	b, err := json.Marshal(record)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err = m.f.Write(append(b, '\n'))
	return err
}

// TruncateAfter drops every record whose "step" is greater than step. A stage resuming from the checkpoint
// of step k calls it so that metrics.jsonl holds each step once, as an uninterrupted run would.
func (m *Metrics) TruncateAfter(step int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, err := os.ReadFile(m.path)
	if err != nil {
		return err
	}
	var kept bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var rec struct {
			Step *int `json:"step"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			break // a line cut short by a kill: it and everything after it go
		}
		if rec.Step != nil && *rec.Step > step {
			continue
		}
		kept.Write(sc.Bytes())
		kept.WriteByte('\n')
	}
	if err := m.f.Truncate(0); err != nil {
		return err
	}
	_, err = m.f.Write(kept.Bytes())
	return err
}

// Close flushes the file to disk and closes it.
func (m *Metrics) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.f.Sync(); err != nil {
		m.f.Close()
		return err
	}
	return m.f.Close()
}
