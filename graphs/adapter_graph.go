package graphs

import "gorgonia.org/gorgonia"

// adapterGraph is an adapter wired into one graph: the node of each tensor
// of its store and the graph's LoRA gate. The forward functions (gptHidden
// and below) read it; nil means no adapter.
type adapterGraph struct {
	method AdapterMethod
	P      int                              // virtual positions (prefix, prompt)
	node   func(name string) *gorgonia.Node // by PEFT name; nil for a tensor the adapter lacks
	gate   *LoRAGate                        // LoRA only
}

// newAdapterGraph binds a's tensors, looked up by node, into a graph.
func newAdapterGraph(a *Adapter, node func(string) *gorgonia.Node) *adapterGraph {
	ag := &adapterGraph{method: a.Config.PeftType, P: a.Virtual(), node: node}
	if ag.method == LoRA {
		ag.gate = &LoRAGate{Scale: a.Scale()}
	}
	return ag
}

// lora returns layer l's module's A and B nodes, or nils when the adapter
// does not adapt it.
func (ag *adapterGraph) lora(l int, module string) (a, b *gorgonia.Node) {
	if ag.method != LoRA {
		return nil, nil
	}
	return ag.node(loraName(l, module, "A")), ag.node(loraName(l, module, "B"))
}
