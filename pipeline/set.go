package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// applySet applies one --set key.path=value override to the YAML tree before it is decoded, so the value
// goes through the same strict decoding as the file. Paths name mapping keys; under `stages` a segment
// names a stage by its name (or by its index). A missing key is added and then checked like any other.
//
//	--set seed=7  --set model.n_layer=2  --set stages.pretrain.max_steps=10  --set stages.sft.lora.r=4
func applySet(root *yaml.Node, flag string, origin map[*yaml.Node]string) error {
	eq := strings.IndexByte(flag, '=')
	if eq <= 0 {
		return fmt.Errorf("want key.path=value")
	}
	path, text := strings.Split(flag[:eq], "."), flag[eq+1:]
	var val yaml.Node
	if err := yaml.Unmarshal([]byte(text), &val); err != nil || len(val.Content) == 0 {
		// An empty value, or text YAML cannot read, is taken as a plain string.
		val = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: text}}}
	}
	value := val.Content[0]
	markOrigin(value, "--set "+flag, origin)

	n := root
	for i, seg := range path {
		last := i == len(path)-1
		switch n.Kind {
		case yaml.MappingNode:
			child := mappingValue(n, seg)
			if last {
				if child == nil {
					key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: seg}
					origin[key] = "--set " + flag
					n.Content = append(n.Content, key, value)
				} else {
					*child = *value
					origin[child] = "--set " + flag
				}
				return nil
			}
			if child == nil {
				key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: seg}
				child = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				origin[key], origin[child] = "--set "+flag, "--set "+flag
				n.Content = append(n.Content, key, child)
			}
			n = child
		case yaml.SequenceNode:
			child := findStage(n, seg)
			if child == nil {
				return fmt.Errorf("no stage named %q at %s", seg, strings.Join(path[:i], "."))
			}
			if last {
				*child = *value
				origin[child] = "--set " + flag
				return nil
			}
			n = child
		default:
			return fmt.Errorf("%s is not a mapping or a list", strings.Join(path[:i], "."))
		}
	}
	return nil
}

// findStage finds a list item by its `name:` value, or by its index.
func findStage(seq *yaml.Node, seg string) *yaml.Node {
	for _, item := range seq.Content {
		if item.Kind == yaml.MappingNode {
			if name := mappingValue(item, "name"); name != nil && name.Value == seg {
				return item
			}
		}
	}
	if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(seq.Content) {
		return seq.Content[i]
	}
	return nil
}

func markOrigin(n *yaml.Node, flag string, origin map[*yaml.Node]string) {
	origin[n] = flag
	for _, c := range n.Content {
		markOrigin(c, flag, origin)
	}
}
