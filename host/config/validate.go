package config

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

type rangeKey struct {
	obj  any
	attr string
}

// remember keeps the source range of attributes that cross-reference other
// blocks, so that reference errors point at them.
func (l *loader) remember(obj any, a *attrs, names ...string) {
	for _, n := range names {
		l.ranges[rangeKey{obj, n}] = a.rangeOf(n)
	}
}

func (l *loader) rangeOf(obj any, attr string, fallback hcl.Range) hcl.Range {
	if r, ok := l.ranges[rangeKey{obj, attr}]; ok {
		return r
	}
	return fallback
}

// notFound reports a reference to a missing block unless a file failed to
// parse (the name may be defined there).
func (l *loader) notFound(rng hcl.Range, summary, format string, args ...any) {
	if l.incomplete {
		return
	}
	l.errorAt(rng, summary, format, args...)
}

func (l *loader) crossCheck() {
	workflows := map[string]*Workflow{}
	for _, w := range l.p.Workflows {
		workflows[w.Name] = w
	}
	webhooks := map[string]bool{}
	for _, w := range l.p.Webhooks {
		webhooks[w.Name] = true
	}
	services := map[string]*Service{}
	for _, s := range l.p.Services {
		services[s.Name] = s
	}

	for _, w := range l.p.Workflows {
		for _, t := range w.Triggers {
			switch t.Kind {
			case TriggerWorkflow:
				rng := l.rangeOf(t, "workflow", t.DeclRange)
				if t.Workflow == w.Name {
					l.errorAt(rng, "Workflow triggers itself", "Workflow %q cannot be triggered by its own completion.", w.Name)
				} else if _, ok := workflows[t.Workflow]; !ok && t.Workflow != "" {
					l.notFound(rng, "Unknown workflow", "No workflow named %q is defined.%s", t.Workflow, suggest(t.Workflow, keys(workflows)))
				}
			case TriggerWebhook:
				if !webhooks[t.Webhook] && t.Webhook != "" {
					l.notFound(l.rangeOf(t, "webhook", t.DeclRange), "Unknown webhook", "No webhook block named %q is defined.%s", t.Webhook, suggest(t.Webhook, keys(webhooks)))
				}
			}
			if t.Condition != nil {
				l.checkRefs(t.Condition, refScope{wf: w})
			}
		}
		l.checkSteps(w, w.Steps, nil)
		l.checkSteps(w, w.OnFailure, w.Steps)
	}

	for _, c := range l.p.Checks {
		if c.Type == "process" && c.Service != "" {
			if _, ok := services[c.Service]; !ok {
				l.notFound(l.rangeOf(c, "service", c.DeclRange), "Unknown service", "No service named %q is defined.%s", c.Service, suggest(c.Service, keys(services)))
			}
		}
	}
	for _, h := range l.healRefs {
		if _, ok := workflows[h.workflow]; !ok {
			l.notFound(h.rng, "Unknown workflow", "No workflow named %q is defined.%s", h.workflow, suggest(h.workflow, keys(workflows)))
		}
	}

	// Service dependencies.
	deps := map[string][]string{}
	depRange := map[string]hcl.Range{}
	for _, s := range l.p.Services {
		rng := l.rangeOf(s, "depends_on", s.DeclRange)
		depRange[s.Name] = rng
		for _, d := range s.DependsOn {
			if _, ok := services[d]; !ok {
				l.notFound(rng, "Unknown service", "Service %q depends on %q, which is not defined.%s", s.Name, d, suggest(d, keys(services)))
				continue
			}
			deps[s.Name] = append(deps[s.Name], d)
		}
	}
	names := make([]string, len(l.p.Services))
	for i, s := range l.p.Services {
		names[i] = s.Name
	}
	l.reportCycles("service", names, deps, depRange)
}

// checkSteps validates depends_on (existence within the group, no cycles)
// and the references of runtime expressions. For on_failure steps, before
// holds the workflow's main steps, whose outputs they may read.
func (l *loader) checkSteps(w *Workflow, steps, before []*Step) {
	group := map[string]*Step{}
	for _, s := range steps {
		group[s.Name] = s
	}
	deps := map[string][]string{}
	depRange := map[string]hcl.Range{}
	for _, s := range steps {
		rng := l.rangeOf(s, "depends_on", s.DeclRange)
		depRange[s.Name] = rng
		for _, d := range s.DependsOn {
			switch {
			case d == s.Name:
				l.errorAt(rng, "Step depends on itself", "Step %q cannot depend on itself.", s.Name)
			case group[d] == nil:
				l.errorAt(rng, "Unknown step in depends_on", "Step %q depends on %q, which is not a step of workflow %q.%s",
					s.Name, d, w.Name, suggest(d, keys(group)))
			default:
				deps[s.Name] = append(deps[s.Name], d)
			}
		}
	}
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.Name
	}
	l.reportCycles("step", names, deps, depRange)

	for _, s := range steps {
		sc := refScope{wf: w, step: s, each: s.ForEach != nil, onFailure: before != nil, steps: map[string]bool{}}
		if before != nil {
			for _, b := range before {
				sc.steps[b.Name] = true
			}
			for _, b := range steps {
				sc.steps[b.Name] = true
			}
		} else {
			for n := range ancestors(s.Name, deps) {
				sc.steps[n] = true
			}
		}
		sc.group = group
		if s.If != nil {
			l.checkRefs(s.If, sc)
		}
		if s.ForEach != nil {
			l.checkRefs(s.ForEach, refScope{wf: w, step: s, steps: sc.steps, group: group, onFailure: sc.onFailure})
		}
		for _, name := range keys(s.Input) {
			l.checkRefs(s.Input[name], sc)
		}
	}
}

func ancestors(name string, deps map[string][]string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		for _, d := range deps[n] {
			if !seen[d] {
				seen[d] = true
				walk(d)
			}
		}
	}
	walk(name)
	return seen
}

// reportCycles finds dependency cycles and reports each once, at the
// depends_on of the node where the cycle closes, with the cycle path.
func (l *loader) reportCycles(kind string, order []string, deps map[string][]string, ranges map[string]hcl.Range) {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range deps[n] {
			switch color[d] {
			case white:
				visit(d)
			case grey:
				i := len(stack) - 1
				for stack[i] != d {
					i--
				}
				path := append(append([]string(nil), stack[i:]...), d)
				l.errorAt(ranges[n], "Dependency cycle", "The %ss form a cycle: %s.", kind, strings.Join(path, " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, n := range order {
		if color[n] == white {
			visit(n)
		}
	}
}

// refScope says which names a runtime expression may refer to.
type refScope struct {
	wf        *Workflow
	step      *Step           // nil for trigger conditions
	steps     map[string]bool // steps whose output is available
	group     map[string]*Step
	each      bool
	onFailure bool
}

// runtimeRoots are the top-level names runtime expressions may use.
var runtimeRoots = []string{"var", "event", "step", "each", "workflow", "execution", "error"}

func (l *loader) checkRefs(expr hcl.Expression, sc refScope) {
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		rng := tr.SourceRange()
		next := ""
		if len(tr) > 1 {
			switch t := tr[1].(type) {
			case hcl.TraverseAttr:
				next = t.Name
			case hcl.TraverseIndex:
				if t.Key.Type().FriendlyName() == "string" && t.Key.IsKnown() && !t.Key.IsNull() {
					next = t.Key.AsString()
				}
			}
		}
		switch root {
		case "var":
			if next != "" {
				if _, ok := l.p.Variables[next]; !ok && !l.incomplete {
					l.errorAt(rng, "Reference to undeclared variable", "No variable named %q is declared.%s", next, suggest(next, keys(l.p.Variables)))
				}
			}
		case "event", "workflow", "execution":
		case "step":
			if sc.step == nil {
				l.errorAt(rng, "Invalid reference", "A trigger condition cannot refer to step outputs.")
				continue
			}
			if next == "" {
				l.errorAt(rng, "Invalid reference", "A step reference needs a step name: step.NAME.output.")
				continue
			}
			if next == sc.step.Name {
				l.errorAt(rng, "Invalid reference", "Step %q cannot refer to its own output.", next)
			} else if !sc.steps[next] {
				if sc.group[next] != nil {
					l.errorAt(rng, "Reference to a step that is not a dependency",
						"Step %q reads the output of %q, so it must depend on it (directly or through other steps): add %q to depends_on.", sc.step.Name, next, next)
				} else {
					var all []string
					for _, s := range sc.wf.Steps {
						all = append(all, s.Name)
					}
					l.errorAt(rng, "Reference to unknown step", "Workflow %q has no step named %q.%s", sc.wf.Name, next, suggest(next, all))
				}
			}
		case "each":
			if !sc.each {
				l.errorAt(rng, "Invalid reference", "each.key and each.value are only available in a step with for_each.")
			}
		case "error":
			if !sc.onFailure {
				l.errorAt(rng, "Invalid reference", "error.* is only available in on_failure steps.")
			}
		default:
			l.errorAt(rng, "Unknown variable", "There is no variable named %q. Expressions evaluated at run time can refer to %s.%s",
				root, strings.Join(runtimeRoots, ", "), suggest(root, runtimeRoots))
		}
	}
}
