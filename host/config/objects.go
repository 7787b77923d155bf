package config

import (
	"maps"
	"slices"
	"sort"

	"github.com/hashicorp/hcl/v2"
)

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
	out = appendObjects(out, "variable", slices.Collect(maps.Values(p.Variables)), func(v *Variable) (string, hcl.Range) { return v.Name, v.DeclRange })
	out = appendObjects(out, "plugin", p.Plugins, func(x *Plugin) (string, hcl.Range) { return x.Name, x.DeclRange })
	out = appendObjects(out, "workflow", p.Workflows, func(x *Workflow) (string, hcl.Range) { return x.Name, x.DeclRange })
	out = appendObjects(out, "check", p.Checks, func(x *Check) (string, hcl.Range) { return x.Name, x.DeclRange })
	out = appendObjects(out, "service", p.Services, func(x *Service) (string, hcl.Range) { return x.Name, x.DeclRange })
	out = appendObjects(out, "scaling", p.Scaling, func(x *Scaling) (string, hcl.Range) { return x.Name, x.DeclRange })
	out = appendObjects(out, "discovery", p.Discovery, func(x *Discovery) (string, hcl.Range) { return x.Name, x.DeclRange })
	out = appendObjects(out, "webhook", p.Webhooks, func(x *Webhook) (string, hcl.Range) { return x.Name, x.DeclRange })
	out = appendObjects(out, "alert", p.Alerts, func(x *Notifier) (string, hcl.Range) { return x.Name, x.DeclRange })
	return out
}

// appendObjects appends the blocks of one kind, sorted by name.
func appendObjects[T any](out []Object, kind string, blocks []T, named func(T) (string, hcl.Range)) []Object {
	start := len(out)
	for _, b := range blocks {
		name, r := named(b)
		out = append(out, Object{Kind: kind, Name: name, File: r.Filename, Line: r.Start.Line})
	}
	sort.Slice(out[start:], func(i, j int) bool { return out[start+i].Name < out[start+j].Name })
	return out
}
