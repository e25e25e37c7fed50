package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"

	"github.com/schollz/progressbar/v3"

	"pipeline/atomicfile"
)

// Encoder is what Prepare needs of a tokenizer.
type Encoder interface {
	Encode(text string) []int
	SpecialID(token string) (int, bool)
	VocabSize() int
}

// EndOfText is the special token that separates documents.
const EndOfText = "<|endoftext|>"

// PrepareOptions say which corpus to tokenize and where shards are cached.
type PrepareOptions struct {
	Files        []string       // corpus files, in order
	Separator    *regexp.Regexp // a line matching it ends a document
	ValFraction  float64        // fraction of documents held out
	Seed         int64          // decides which documents are held out
	TokenizerDir string         // its tokenizer.json enters the cache key
	CacheDir     string         // shards live in CacheDir/<key>/
	Progress     func(total int, description string) *progressbar.ProgressBar
	Logf         func(format string, args ...any)
}

// Shards are the tokenized corpus: documents joined by <|endoftext|>, each followed by one.
type Shards struct {
	Train, Val []uint32
	Meta       Meta
	Dir        string
}

// Meta is meta.json beside the shards.
type Meta struct {
	Key            string  `json:"key"`
	Documents      int     `json:"documents"`
	ValDocuments   int     `json:"val_documents"`
	TrainTokens    int     `json:"train_tokens"`
	ValTokens      int     `json:"val_tokens"`
	TrainBytes     int64   `json:"train_bytes"`
	ValBytes       int64   `json:"val_bytes"`
	UnigramEntropy float64 `json:"unigram_entropy"` // of the training tokens, in nats: -sum_v p_v ln p_v
}

// BytesPerToken is the training text's compression by the tokenizer.
func (m Meta) BytesPerToken() float64 { return float64(m.TrainBytes) / float64(m.TrainTokens) }

const shardFormat = 1

// Prepare returns the corpus's shards, tokenizing it only when no shards exist for the same tokenizer,
// files, separator, split and seed.
func Prepare(ctx context.Context, o PrepareOptions, enc Encoder) (*Shards, error) {
	key, err := cacheKey(o)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(o.CacheDir, key[:16])
	if s, err := loadShards(dir); err == nil && s.Meta.Key == key {
		o.logf("corpus: reusing the shards in %s", dir)
		return s, nil
	}
	eot, ok := enc.SpecialID(EndOfText)
	if !ok {
		return nil, fmt.Errorf("the tokenizer has no %s token to separate documents", EndOfText)
	}
	var docs []Document
	for _, f := range o.Files {
		d, err := SplitDocuments(f, o.Separator)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("no documents in %v", o.Files)
	}
	meta := Meta{Key: key, Documents: len(docs)}
	var trainIDs, valIDs []uint32
	bar := o.progress(len(docs), "tokenizing")
	for i, doc := range docs {
		if i%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ids := enc.Encode(doc.Text)
		if IsValidation(doc, o.Seed, o.ValFraction) {
			meta.ValDocuments++
			meta.ValBytes += int64(len(doc.Text))
			valIDs = appendDoc(valIDs, ids, eot)
		} else {
			meta.TrainBytes += int64(len(doc.Text))
			trainIDs = appendDoc(trainIDs, ids, eot)
		}
		if bar != nil {
			bar.Add(1)
		}
	}
	if bar != nil {
		bar.Finish()
	}
	if meta.ValDocuments == 0 || meta.ValDocuments == len(docs) {
		return nil, fmt.Errorf("the split put %d of %d documents in validation; adjust val_fraction", meta.ValDocuments, len(docs))
	}
	meta.TrainTokens, meta.ValTokens = len(trainIDs), len(valIDs)
	meta.UnigramEntropy = unigramEntropy(trainIDs, enc.VocabSize())

	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	if err := WriteShard(filepath.Join(tmp, "train.bin"), trainIDs, enc.VocabSize()); err != nil {
		return nil, err
	}
	if err := WriteShard(filepath.Join(tmp, "val.bin"), valIDs, enc.VocabSize()); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(meta, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(tmp, "meta.json"), b, 0o644); err != nil {
		return nil, err
	}
	if err := atomicfile.ReplaceDir(tmp, dir); err != nil {
		return nil, err
	}
	return &Shards{Train: trainIDs, Val: valIDs, Meta: meta, Dir: dir}, nil
}

func appendDoc(dst []uint32, ids []int, eot int) []uint32 {
	for _, id := range ids {
		dst = append(dst, uint32(id))
	}
	return append(dst, uint32(eot))
}

// unigramEntropy is -sum_v p_v ln p_v of the token frequencies: the loss of a model that ignores context.
func unigramEntropy(ids []uint32, vocab int) float64 {
	counts := make([]int, vocab)
	for _, id := range ids {
		counts[id]++
	}
	h, n := 0.0, float64(len(ids))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log(p)
		}
	}
	return h
}

func loadShards(dir string) (*Shards, error) {
	var meta Meta
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return nil, err
	}
	trainIDs, err := ReadShard(filepath.Join(dir, "train.bin"))
	if err != nil {
		return nil, err
	}
	valIDs, err := ReadShard(filepath.Join(dir, "val.bin"))
	if err != nil {
		return nil, err
	}
	return &Shards{Train: trainIDs, Val: valIDs, Meta: meta, Dir: dir}, nil
}

// cacheKey hashes everything the shards depend on.
func cacheKey(o PrepareOptions) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "format %d\nseparator %s\nval %g\nseed %d\n", shardFormat, o.Separator, o.ValFraction, o.Seed)
	for _, f := range append([]string{filepath.Join(o.TokenizerDir, "tokenizer.json")}, o.Files...) {
		fh, err := os.Open(f)
		if err != nil {
			return "", err
		}
		fileHash := sha256.New()
		_, err = io.Copy(fileHash, fh)
		fh.Close()
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", f, err)
		}
		fmt.Fprintf(h, "file %x\n", fileHash.Sum(nil))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (o PrepareOptions) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

func (o PrepareOptions) progress(total int, desc string) *progressbar.ProgressBar {
	if o.Progress == nil {
		return nil
	}
	return o.Progress(total, desc)
}
