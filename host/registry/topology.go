package registry

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Edge kinds.
const (
	// EdgeHosts links a node to a service running on it.
	EdgeHosts = "hosts"
	// EdgeDeclared is a dependency declared in the policies.
	EdgeDeclared = "declared"
	// EdgeObserved is a connection a node reported.
	EdgeObserved = "observed"
)

// Edge is a connection in the topology. From and To are vertex ids in a
// Topology; in SetDeclared they are service names.
type Edge struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Kind   string `json:"kind"`
	Reason string `json:"reason,omitempty"`
}

// Vertex is a node or a service of the topology.
type Vertex struct {
	ID      string            `json:"id"`
	Kind    string            `json:"kind"` // node | service
	Name    string            `json:"name"`
	State   string            `json:"state,omitempty"`
	Address string            `json:"address,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// Topology is the fleet as a graph.
type Topology struct {
	Vertices []Vertex `json:"vertices"`
	Edges    []Edge   `json:"edges"`
}

// Topology builds the graph of nodes, their services, the external
// (discovered) services given, declared dependencies and observed
// connections. A discovered service whose address is a node's address is
// attached to that node.
func (r *Registry) Topology(external []Service) Topology {
	nodes := r.Nodes()
	r.mu.RLock()
	declared := append([]Edge(nil), r.declared...)
	r.mu.RUnlock()

	var t Topology
	seen := map[string]bool{}
	byName := map[string]string{}
	byAddr := map[string]string{}
	addV := func(v Vertex) {
		if seen[v.ID] {
			return
		}
		seen[v.ID] = true
		t.Vertices = append(t.Vertices, v)
	}
	edgeSeen := map[string]bool{}
	addE := func(e Edge) {
		k := e.From + "\x00" + e.To + "\x00" + e.Kind
		if edgeSeen[k] || e.From == e.To {
			return
		}
		edgeSeen[k] = true
		t.Edges = append(t.Edges, e)
	}
	nodeByHost := map[string]string{}
	for _, n := range nodes {
		vid := "node:" + n.ID
		addV(Vertex{ID: vid, Kind: "node", Name: n.Name, State: n.State, Address: n.Address, Labels: n.Labels})
		if _, _, err := net.SplitHostPort(n.Address); err == nil {
			byAddr[normAddr(n.Address)] = vid // a node's own endpoint (its API)
		}
		if h := hostOf(n.Address); h != "" {
			if _, dup := nodeByHost[h]; !dup {
				nodeByHost[h] = vid
			}
		}
		for _, s := range n.Services {
			sid := "service:" + n.ID + "/" + s.ID
			addV(Vertex{ID: sid, Kind: "service", Name: s.Name, State: s.Health, Address: endpointOf(s, n.Address)})
			addE(Edge{From: vid, To: sid, Kind: EdgeHosts})
			indexService(byName, byAddr, sid, s, n.Address)
		}
	}
	for _, s := range external {
		sid := "service:" + s.ID
		if seen[sid] {
			continue
		}
		addV(Vertex{ID: sid, Kind: "service", Name: s.Name, State: s.Health, Address: endpointOf(s, ""), Labels: s.Labels})
		indexService(byName, byAddr, sid, s, "")
		if nv, ok := nodeByHost[hostOf(endpointOf(s, ""))]; ok {
			addE(Edge{From: nv, To: sid, Kind: EdgeHosts})
		}
	}
	for _, d := range declared {
		from, ok := byName[d.From]
		if !ok {
			from = "service:" + d.From
			addV(Vertex{ID: from, Kind: "service", Name: d.From, State: "declared"})
			byName[d.From] = from
		}
		to, ok := byName[d.To]
		if !ok {
			to = "service:" + d.To
			addV(Vertex{ID: to, Kind: "service", Name: d.To, State: "declared"})
			byName[d.To] = to
		}
		addE(Edge{From: from, To: to, Kind: EdgeDeclared, Reason: d.Reason})
	}
	for _, n := range nodes {
		for _, c := range n.Connections {
			if to, ok := byAddr[normAddr(c)]; ok {
				addE(Edge{From: "node:" + n.ID, To: to, Kind: EdgeObserved, Reason: "connection to " + c})
			}
		}
	}
	sort.Slice(t.Vertices, func(i, j int) bool { return t.Vertices[i].ID < t.Vertices[j].ID })
	sort.Slice(t.Edges, func(i, j int) bool {
		a, b := t.Edges[i], t.Edges[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.To != b.To {
			return a.To < b.To
		}
		return a.Kind < b.Kind
	})
	if t.Vertices == nil {
		t.Vertices = []Vertex{}
	}
	if t.Edges == nil {
		t.Edges = []Edge{}
	}
	return t
}

func indexService(byName, byAddr map[string]string, sid string, s Service, nodeAddr string) {
	if _, ok := byName[s.Name]; !ok && s.Name != "" {
		byName[s.Name] = sid
	}
	if _, ok := byName[s.ID]; !ok {
		byName[s.ID] = sid
	}
	if a := normAddr(endpointOf(s, nodeAddr)); a != "" {
		if _, ok := byAddr[a]; !ok {
			byAddr[a] = sid
		}
	}
}

// endpointOf is the host:port of a service.
func endpointOf(s Service, nodeAddr string) string {
	if s.URL != "" {
		if u, err := url.Parse(s.URL); err == nil && u.Host != "" {
			if u.Port() != "" {
				return u.Host
			}
			port := "80"
			if u.Scheme == "https" {
				port = "443"
			}
			return net.JoinHostPort(u.Hostname(), port)
		}
	}
	host := s.Address
	if h, p, err := net.SplitHostPort(host); err == nil {
		if s.Port == 0 {
			return net.JoinHostPort(h, p)
		}
		host = h
	}
	if host == "" {
		host = hostOf(nodeAddr)
	}
	if host == "" || s.Port == 0 {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(s.Port))
}

func hostOf(addr string) string {
	if addr == "" {
		return ""
	}
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		return u.Hostname()
	}
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func normAddr(a string) string {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return a
	}
	if h == "localhost" {
		h = "127.0.0.1"
	}
	return net.JoinHostPort(h, p)
}

// DOT renders the topology as a Graphviz digraph. Declared edges are
// dashed, observed ones bold.
func (t Topology) DOT() string {
	var b strings.Builder
	b.WriteString("digraph heady {\n  rankdir=LR;\n")
	for _, v := range t.Vertices {
		shape := "ellipse"
		if v.Kind == "node" {
			shape = "box"
		}
		label := v.Name
		if v.State != "" {
			label += "\\n" + v.State
		}
		fmt.Fprintf(&b, "  %q [shape=%s,label=%q];\n", v.ID, shape, label)
	}
	for _, e := range t.Edges {
		style := "solid"
		switch e.Kind {
		case EdgeDeclared:
			style = "dashed"
		case EdgeObserved:
			style = "bold"
		}
		fmt.Fprintf(&b, "  %q -> %q [label=%q,style=%s];\n", e.From, e.To, e.Kind, style)
	}
	b.WriteString("}\n")
	return b.String()
}

// Mermaid renders the topology as a Mermaid flowchart. Declared edges are
// dotted, observed ones thick.
func (t Topology) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	ids := map[string]string{}
	for i, v := range t.Vertices {
		id := "v" + strconv.Itoa(i)
		ids[v.ID] = id
		label := strings.ReplaceAll(v.Name, `"`, "'")
		if v.State != "" {
			label += " (" + v.State + ")"
		}
		if v.Kind == "node" {
			fmt.Fprintf(&b, "  %s[\"%s\"]\n", id, label)
		} else {
			fmt.Fprintf(&b, "  %s([\"%s\"])\n", id, label)
		}
	}
	for _, e := range t.Edges {
		arrow := "-->"
		switch e.Kind {
		case EdgeDeclared:
			arrow = "-.->"
		case EdgeObserved:
			arrow = "==>"
		}
		fmt.Fprintf(&b, "  %s %s|%s| %s\n", ids[e.From], arrow, e.Kind, ids[e.To])
	}
	return b.String()
}
