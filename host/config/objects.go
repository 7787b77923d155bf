package config

import "sort"

// Object is one named block of a loaded policy set, for listings.
type Object struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	File string `json:"file"`
	Line int    `json:"line"`
}

// Objects lists every named block (variable, plugin, workflow, check,
// service, scaling, discovery, webhook, alert), ordered by kind in that
// order and then by name.
func (p *Policy) Objects() []Object {
	var out []Object
	add := func(kind string, list []Object) {
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
		out = append(out, list...)
	}
	var vars []Object
	for _, v := range p.Variables {
		vars = append(vars, Object{"variable", v.Name, v.DeclRange.Filename, v.DeclRange.Start.Line})
	}
	add("variable", vars)
	var l []Object
	for _, x := range p.Plugins {
		l = append(l, Object{"plugin", x.Name, x.DeclRange.Filename, x.DeclRange.Start.Line})
	}
	add("plugin", l)
	l = nil
	for _, x := range p.Workflows {
		l = append(l, Object{"workflow", x.Name, x.DeclRange.Filename, x.DeclRange.Start.Line})
	}
	add("workflow", l)
	l = nil
	for _, x := range p.Checks {
		l = append(l, Object{"check", x.Name, x.DeclRange.Filename, x.DeclRange.Start.Line})
	}
	add("check", l)
	l = nil
	for _, x := range p.Services {
		l = append(l, Object{"service", x.Name, x.DeclRange.Filename, x.DeclRange.Start.Line})
	}
	add("service", l)
	l = nil
	for _, x := range p.Scaling {
		l = append(l, Object{"scaling", x.Name, x.DeclRange.Filename, x.DeclRange.Start.Line})
	}
	add("scaling", l)
	l = nil
	for _, x := range p.Discovery {
		l = append(l, Object{"discovery", x.Name, x.DeclRange.Filename, x.DeclRange.Start.Line})
	}
	add("discovery", l)
	l = nil
	for _, x := range p.Webhooks {
		l = append(l, Object{"webhook", x.Name, x.DeclRange.Filename, x.DeclRange.Start.Line})
	}
	add("webhook", l)
	l = nil
	for _, x := range p.Alerts {
		l = append(l, Object{"alert", x.Name, x.DeclRange.Filename, x.DeclRange.Start.Line})
	}
	add("alert", l)
	return out
}
