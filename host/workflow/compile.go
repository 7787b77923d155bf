package workflow

import (
	"errors"
	"fmt"
	"github.com/zclconf/go-cty/cty"
	"net/url"
	"strings"
	"time"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/events"
	"github.com/robfig/cron/v3"
)

// compiled is the engine's view of one policy version.
type compiled struct {
	version string
	wfs     map[string]*wfDef
	order   []string
	hooks   map[string]*config.Webhook
	// completionListeners is true when some trigger can match the
	// workflow.succeeded / workflow.failed events; only then are they
	// emitted.
	completionListeners bool
	triggers            int
}

type wfDef struct {
	cfg     *config.Workflow
	version string
	// vars are the policy's variables (var.*) as of this version, nil when
	// the engine's Options.Vars apply.
	vars     map[string]cty.Value
	main     *phaseDef
	onFail   *phaseDef
	triggers []*trigDef
}

const (
	phaseMain    = "main"
	phaseFailure = "on_failure"
)

type phaseDef struct {
	name  string
	steps []*config.Step
	index map[string]int
	deps  [][]int
}

type trigDef struct {
	cfg       *config.Trigger
	sched     cron.Schedule
	loc       *time.Location
	schedKey  string
	eventType string // event pattern (event) or exact type (webhook)
	text      string
}

// parseSchedule parses a cron spec (5 fields, or 6 with leading seconds,
// descriptors such as @daily and @every 5m) in time zone tz (default UTC).
func parseSchedule(spec, tz string) (cron.Schedule, *time.Location, error) {
	loc := time.UTC
	if tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return nil, nil, fmt.Errorf("time zone %q: %w", tz, err)
		}
		loc = l
	}
	s, err := config.ParseSchedule(spec, tz)
	if err != nil {
		return nil, nil, err
	}
	return s, loc, nil
}

func compilePolicy(p *config.Policy) (*compiled, error) {
	c := &compiled{wfs: map[string]*wfDef{}, hooks: map[string]*config.Webhook{}}
	if p == nil {
		return c, nil
	}
	c.version = p.Version
	for _, h := range p.Webhooks {
		c.hooks[h.Name] = h
	}
	var errs []error
	for _, w := range p.Workflows {
		d, err := compileWorkflow(w, c.hooks)
		if err != nil {
			errs = append(errs, fmt.Errorf("workflow %s: %w", w.Name, err))
			continue
		}
		d.version = p.Version
		if v := p.Vars(); len(v) > 0 {
			d.vars = v
		}
		if _, dup := c.wfs[w.Name]; dup {
			errs = append(errs, fmt.Errorf("workflow %s: declared twice", w.Name))
			continue
		}
		c.wfs[w.Name] = d
		c.order = append(c.order, w.Name)
		if w.Enabled {
			c.triggers += len(d.triggers)
		}
		for _, t := range d.triggers {
			switch t.cfg.Kind {
			case config.TriggerWorkflow:
				c.completionListeners = true
			case config.TriggerEvent:
				if events.Match(t.eventType, "workflow.succeeded") || events.Match(t.eventType, "workflow.failed") {
					c.completionListeners = true
				}
			}
		}
	}
	return c, errors.Join(errs...)
}

func compileWorkflow(w *config.Workflow, hooks map[string]*config.Webhook) (*wfDef, error) {
	d := &wfDef{cfg: w}
	var err error
	if len(w.Steps) == 0 {
		return nil, fmt.Errorf("no steps")
	}
	if d.main, err = compilePhase(phaseMain, w.Steps); err != nil {
		return nil, err
	}
	if d.onFail, err = compilePhase(phaseFailure, w.OnFailure); err != nil {
		return nil, err
	}
	for i, t := range w.Triggers {
		td := &trigDef{cfg: t}
		switch t.Kind {
		case config.TriggerSchedule:
			spec := t.Cron
			if spec == "" && t.Every > 0 {
				spec = "@every " + t.Every.String()
			}
			if spec == "" {
				return nil, fmt.Errorf("trigger %d: schedule needs cron or every", i+1)
			}
			if t.Cron == "" && t.Every > 0 {
				if t.Every < time.Second {
					return nil, fmt.Errorf("trigger %d: every must be at least 1s", i+1)
				}
				td.sched, td.loc = cron.Every(t.Every), time.UTC
			} else if td.sched, td.loc, err = parseSchedule(spec, t.Timezone); err != nil {
				return nil, fmt.Errorf("trigger %d: %w", i+1, err)
			}
			td.schedKey = schedPrefix(w.Name) + url.PathEscape(spec+"|"+td.loc.String())
			td.text = "schedule " + spec
			if td.loc != time.UTC {
				td.text += " (" + td.loc.String() + ")"
			}
			if c := t.CatchUp; c != "" && c != "skip" {
				td.text += ", catch up " + c
			}
		case config.TriggerEvent:
			td.eventType = t.EventType
			if td.eventType == "" {
				td.eventType = "*"
			}
			td.text = "event " + td.eventType
			if t.Condition != nil {
				td.text += " when condition holds"
			}
		case config.TriggerWebhook:
			h, ok := hooks[t.Webhook]
			if !ok {
				return nil, fmt.Errorf("trigger %d: unknown webhook %q", i+1, t.Webhook)
			}
			td.eventType = events.WebhookEventType(h)
			td.text = "webhook " + t.Webhook
		case config.TriggerWorkflow:
			on := t.On
			if on == "" {
				on = "success"
			}
			td.text = "workflow " + t.Workflow + " on " + on
		default:
			return nil, fmt.Errorf("trigger %d: unknown kind %q", i+1, t.Kind)
		}
		d.triggers = append(d.triggers, td)
	}
	return d, nil
}

func compilePhase(name string, steps []*config.Step) (*phaseDef, error) {
	p := &phaseDef{name: name, steps: steps, index: map[string]int{}, deps: make([][]int, len(steps))}
	for i, s := range steps {
		if s.Name == "" {
			return nil, fmt.Errorf("%s step %d: missing name", name, i+1)
		}
		if _, dup := p.index[s.Name]; dup {
			return nil, fmt.Errorf("%s step %s: declared twice", name, s.Name)
		}
		if s.Action == "" {
			return nil, fmt.Errorf("%s step %s: missing action", name, s.Name)
		}
		p.index[s.Name] = i
	}
	for i, s := range steps {
		for _, dep := range s.DependsOn {
			j, ok := p.index[strings.TrimPrefix(dep, "step.")]
			if !ok {
				return nil, fmt.Errorf("%s step %s: depends_on unknown step %q", name, s.Name, dep)
			}
			p.deps[i] = append(p.deps[i], j)
		}
	}
	// Cycle check (Kahn).
	indeg := make([]int, len(steps))
	for i := range steps {
		indeg[i] = len(p.deps[i])
	}
	done := 0
	queue := []int{}
	for i, d := range indeg {
		if d == 0 {
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		done++
		for i := range steps {
			for _, d := range p.deps[i] {
				if d == n {
					indeg[i]--
					if indeg[i] == 0 {
						queue = append(queue, i)
					}
				}
			}
		}
	}
	if done != len(steps) {
		return nil, fmt.Errorf("%s steps: depends_on forms a cycle", name)
	}
	return p, nil
}

func schedPrefix(wf string) string { return "sched/" + wf + "/" }
