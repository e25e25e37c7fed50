package pipeline

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a config, at a place a person can find: a file, line and column, or the
// --set flag that introduced the value.
type Problem struct {
	Where string // "configs/tiny.yaml:12:5" or "--set stages.pretrain.lr=abc"
	Path  string // the key's path in the config: "stages[2].vocab_size"
	Msg   string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Where + ": " + p.Msg
	}
	return p.Where + ": " + p.Path + ": " + p.Msg
}

// Problems is every problem found in a config; as an error it prints one per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// decoder turns YAML nodes into typed structs strictly: every key must be a field, every value of the
// field's type, every required field present. It keeps going after a problem so that one pass lists all.
type decoder struct {
	file     string
	setFlags map[*yaml.Node]string // nodes that came from --set, with the flag's text
	problems Problems
	keys     map[string]*yaml.Node // config path -> the node of its key, for positions of later problems
	values   map[string]*yaml.Node // config path -> the node of its value (a --set one when overridden)
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, setFlags: map[*yaml.Node]string{}, keys: map[string]*yaml.Node{}, values: map[string]*yaml.Node{}}
}

func (d *decoder) where(n *yaml.Node) string {
	if flag, ok := d.setFlags[n]; ok {
		return flag
	}
	if n == nil {
		return d.file
	}
	return fmt.Sprintf("%s:%d:%d", d.file, n.Line, n.Column)
}

// nearest returns the node of path's key or, when the key is not in the file (a default), of the closest
// enclosing key or stage, so that a problem with a default value still points at its stage.
func (d *decoder) nearest(path string) *yaml.Node {
	for path != "" {
		if n, ok := d.keys[path]; ok {
			return n
		}
		cut := strings.LastIndexAny(path, ".[")
		if cut < 0 {
			break
		}
		path = path[:cut]
	}
	return nil
}

// whereKey is where a problem found after decoding with the value at path is reported: the --set flag
// that gave the value, else the key's line in the file, else the nearest enclosing key's.
func (d *decoder) whereKey(path string) string {
	if flag, ok := d.setFlags[d.values[path]]; ok {
		return flag
	}
	return d.where(d.nearest(path))
}

func (d *decoder) problem(n *yaml.Node, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{Where: d.where(n), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// decode fills v (addressable) from n. path names n in messages.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if v.Type() == reflect.TypeOf([]*StageConfig{}) {
		d.decodeStages(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path, nil)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.problem(n, path, "want a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			d.problem(n, path, "want a string, got %s (quote it if it is meant as text)", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.problem(n, path, "want true or false, got %s", describe(n))
			return
		}
		var b bool
		n.Decode(&b)
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.problem(n, path, "want an integer, got %s", describe(n))
			return
		}
		var i int64
		if err := n.Decode(&i); err != nil {
			d.problem(n, path, "want an integer: %v", err)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!float" && n.Tag != "!!int") {
			d.problem(n, path, "want a number, got %s", describe(n))
			return
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil {
			var g float64
			if n.Decode(&g) != nil {
				d.problem(n, path, "want a number, got %q", n.Value)
				return
			}
			f = g
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("pipeline: options field of unsupported type %s at %s", v.Type(), path))
	}
}

// decodeStruct decodes a mapping into a struct whose fields carry yaml tags. Keys listed in skip are
// allowed and left alone (a stage's name and kind).
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string, skip []string) {
	if n.Kind != yaml.MappingNode {
		d.problem(n, path, "want a mapping of keys, got %s", describe(n))
		return
	}
	fields := structFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		kpath := joinPath(path, key.Value)
		if seen[key.Value] {
			d.problem(key, kpath, "key given twice")
			continue
		}
		seen[key.Value] = true
		d.keys[kpath], d.values[kpath] = key, val
		if contains(skip, key.Value) {
			continue
		}
		f, ok := fields[key.Value]
		if !ok {
			d.problem(key, kpath, "unknown key; allowed keys: %s", strings.Join(allowedKeys(fields, skip), ", "))
			continue
		}
		fv, before := v.FieldByIndex(f.Index), len(d.problems)
		d.decode(val, fv, kpath)
		empty := (fv.Kind() == reflect.Slice || fv.Kind() == reflect.String) && fv.Len() == 0
		if f.Tag.Get("required") == "true" && empty && len(d.problems) == before {
			d.problem(val, kpath, "must not be empty (%s)", f.Tag.Get("doc"))
		}
	}
	for _, name := range sortedKeys(fields) {
		f := fields[name]
		if f.Tag.Get("required") == "true" && !seen[name] {
			d.problem(n, path, "missing required key %q (%s)", name, f.Tag.Get("doc"))
		}
	}
}

// decodeStages decodes the `stages:` list: each entry's `kind` chooses the options struct its other keys
// are decoded into.
func (d *decoder) decodeStages(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.problem(n, path, "want a list of stages, got %s", describe(n))
		return
	}
	stages := make([]*StageConfig, 0, len(n.Content))
	for i, item := range n.Content {
		spath := fmt.Sprintf("%s[%d]", path, i)
		st := &StageConfig{node: item, path: spath}
		d.keys[spath] = item
		stages = append(stages, st)
		if item.Kind != yaml.MappingNode {
			d.problem(item, spath, "want a stage mapping with name and kind, got %s", describe(item))
			continue
		}
		name, kindName := mappingValue(item, "name"), mappingValue(item, "kind")
		if name == nil {
			d.problem(item, spath, "missing required key \"name\"")
		} else {
			d.decode(name, reflect.ValueOf(&st.Name).Elem(), spath+".name")
		}
		if kindName == nil {
			d.problem(item, spath, "missing required key \"kind\"; kinds: %s", strings.Join(KindNames(), ", "))
			continue
		}
		d.decode(kindName, reflect.ValueOf(&st.Kind).Elem(), spath+".kind")
		kind, ok := LookupKind(st.Kind)
		if !ok {
			d.problem(kindName, spath+".kind", "unknown stage kind %q; kinds: %s", st.Kind, strings.Join(KindNames(), ", "))
			continue
		}
		st.Options = kind.Defaults()
		d.decodeStruct(item, reflect.ValueOf(st.Options).Elem(), spath, []string{"name", "kind"})
	}
	v.Set(reflect.ValueOf(stages))
}

// structFields maps yaml keys to the fields of t, embedded structs included.
func structFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for _, f := range reflect.VisibleFields(t) {
		key := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" || !f.IsExported() {
			continue
		}
		out[key] = f
	}
	return out
}

func allowedKeys(fields map[string]reflect.StructField, skip []string) []string {
	return append(append([]string{}, skip...), sortedKeys(fields)...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing (null)"
		}
		return fmt.Sprintf("%q (%s)", n.Value, strings.TrimPrefix(n.Tag, "!!"))
	}
	return "an unexpected node"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
