package pipeline

import (
	"fmt"
	"io"
	"reflect"
	"strings"
)

// WriteReference writes the config reference in Markdown: every key of the top level, the model block and
// each stage kind, with its type, default and meaning, taken from the structs themselves so it cannot drift.
func WriteReference(w io.Writer) {
	fmt.Fprintln(w, "## Top level")
	writeTable(w, reflect.ValueOf(Config{OutDir: "checkpoints"}), "")
	fmt.Fprintln(w, "\n## `model:`")
	writeTable(w, reflect.ValueOf(DefaultModel()), "")
	for _, name := range KindNames() {
		k, _ := LookupKind(name)
		fmt.Fprintf(w, "\n## `kind: %s`\n\n%s\n\nEvery stage also has `name` (required, unique; its output directory) and `kind`.\n", name, k.Doc())
		writeTable(w, reflect.ValueOf(k.Defaults()).Elem(), "")
	}
}

func writeTable(w io.Writer, v reflect.Value, prefix string) {
	if prefix == "" {
		fmt.Fprintln(w, "\n| key | type | default | meaning |\n|---|---|---|---|")
	}
	for _, f := range reflect.VisibleFields(v.Type()) {
		key := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" || !f.IsExported() || f.Anonymous {
			continue
		}
		fv := v.FieldByIndex(f.Index)
		if f.Type == reflect.TypeOf(ModelConfig{}) {
			fmt.Fprintf(w, "| `%s` | mapping | see below | %s |\n", key, f.Tag.Get("doc"))
			continue
		}
		if fv.Kind() == reflect.Struct {
			writeTable(w, fv, prefix+key+".")
			continue
		}
		def := fmt.Sprintf("`%v`", fv.Interface())
		switch {
		case f.Tag.Get("required") == "true":
			def = "required"
		case fv.Kind() == reflect.Slice && fv.Len() == 0, fv.Kind() == reflect.String && fv.Len() == 0:
			def = "–"
		}
		doc := f.Tag.Get("doc")
		if ref := f.Tag.Get("ref"); ref != "" {
			doc += fmt.Sprintf(" (names an earlier stage of kind %s)", strings.ReplaceAll(ref, "|", " or "))
		}
		if f.Tag.Get("fingerprint") == "-" {
			doc += " (left out of the fingerprint: changing it re-runs nothing, an interrupted run resumes)"
		}
		fmt.Fprintf(w, "| `%s%s` | %s | %s | %s |\n", prefix, key, typeName(f.Type), def, doc)
	}
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Bool:
		return "bool"
	case reflect.String:
		return "string"
	case reflect.Pointer:
		return typeName(t.Elem())
	}
	return "mapping"
}
