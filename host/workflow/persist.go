package workflow

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heady-dev/heady/host/store"
)

// Key layout (all under store.SpaceExec / store.SpaceExecIndex / sched/):
//
//	exec/h/<id>                          execution header
//	exec/s/<id>/<m|f>.<step>             step state, written when the step ends
//	exec/a/<id>/<m|f>.<step>/<item>/<n>  one attempt, written when it starts and when it ends
//	execidx/wf/<workflow>/<id>           per-workflow listing
//	execidx/active/<id>                  unfinished executions (resume scan)
//	sched/<workflow>/<spec>              last fire time of a schedule trigger
const (
	prefixHeader  = store.SpaceExec + "h/"
	prefixStep    = store.SpaceExec + "s/"
	prefixAttempt = store.SpaceExec + "a/"
	prefixWfIdx   = store.SpaceExecIndex + "wf/"
	prefixActive  = store.SpaceExecIndex + "active/"
)

func hKey(id string) string { return prefixHeader + id }

func phaseCode(phase string) string {
	if phase == phaseFailure {
		return "f"
	}
	return "m"
}

func sKey(id, phase, step string) string {
	return prefixStep + id + "/" + phaseCode(phase) + "." + step
}

func aKey(id, phase, step string, item, n int) string {
	return fmt.Sprintf("%s%s/%s.%s/%05d/%04d", prefixAttempt, id, phaseCode(phase), step, item, n)
}

func wfIdxKey(wf, id string) string { return prefixWfIdx + wf + "/" + id }
func activeKey(id string) string    { return prefixActive + id }

// header is the stored execution header (Execution without steps).
type header struct {
	ID            string      `json:"id"`
	Workflow      string      `json:"workflow"`
	PolicyVersion string      `json:"policy_version,omitempty"`
	Status        Status      `json:"status"`
	Phase         string      `json:"phase,omitempty"`
	Trigger       TriggerInfo `json:"trigger"`
	Event         EventInfo   `json:"event"`
	CreatedAt     time.Time   `json:"created_at"`
	StartedAt     time.Time   `json:"started_at,omitzero"`
	EndedAt       time.Time   `json:"ended_at,omitzero"`
	Error         *ErrorInfo  `json:"error,omitempty"`
}

func (h *header) summary() ExecutionSummary {
	return ExecutionSummary{ID: h.ID, Workflow: h.Workflow, Status: h.Status, Trigger: h.Trigger,
		CreatedAt: h.CreatedAt, StartedAt: h.StartedAt, EndedAt: h.EndedAt, Error: h.Error}
}

func putHeader(h *header) store.Op { return store.Put(hKey(h.ID), store.MustEncode(h)) }

func putStep(id string, s *StepState) store.Op {
	cp := *s
	cp.Attempts = nil
	return store.Put(sKey(id, s.Phase, s.Name), store.MustEncode(&cp))
}

func putAttempt(id, phase, step string, a *Attempt) store.Op {
	return store.Put(aKey(id, phase, step, a.ItemIndex, a.Attempt), store.MustEncode(a))
}

// stored is everything recorded about one execution.
type stored struct {
	h     header
	steps map[string]*StepState // key "m.name" / "f.name"
	// attempts by step key, then item index, in attempt order.
	attempts map[string]map[int][]*Attempt
}

func loadExecution(st *store.Store, id string) (*stored, error) {
	s := &stored{steps: map[string]*StepState{}, attempts: map[string]map[int][]*Attempt{}}
	if err := st.GetRecord(hKey(id), &s.h); err != nil {
		return nil, err
	}
	err := st.Scan(store.ScanOptions{Prefix: prefixStep + id + "/"}, func(k string, v []byte) (bool, error) {
		var ss StepState
		if err := store.Decode(v, &ss); err != nil {
			return false, fmt.Errorf("%s: %w", k, err)
		}
		s.steps[strings.TrimPrefix(k, prefixStep+id+"/")] = &ss
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	err = st.Scan(store.ScanOptions{Prefix: prefixAttempt + id + "/"}, func(k string, v []byte) (bool, error) {
		rest := strings.TrimPrefix(k, prefixAttempt+id+"/")
		parts := strings.Split(rest, "/")
		if len(parts) != 3 {
			return true, nil
		}
		item, _ := strconv.Atoi(parts[1])
		var a Attempt
		if err := store.Decode(v, &a); err != nil {
			return false, fmt.Errorf("%s: %w", k, err)
		}
		m := s.attempts[parts[0]]
		if m == nil {
			m = map[int][]*Attempt{}
			s.attempts[parts[0]] = m
		}
		m[item] = append(m[item], &a)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// execution assembles the public view.
func (s *stored) execution(def *wfDef) *Execution {
	x := &Execution{ID: s.h.ID, Workflow: s.h.Workflow, PolicyVersion: s.h.PolicyVersion, Status: s.h.Status,
		Trigger: s.h.Trigger, Event: s.h.Event, CreatedAt: s.h.CreatedAt, StartedAt: s.h.StartedAt,
		EndedAt: s.h.EndedAt, Error: s.h.Error}
	seen := map[string]bool{}
	add := func(key, phase, name string) {
		if seen[key] {
			return
		}
		ss := s.steps[key]
		atts := s.attempts[key]
		if ss == nil && len(atts) == 0 {
			return
		}
		seen[key] = true
		var out StepState
		if ss != nil {
			out = *ss
		} else {
			out = StepState{Name: name, Phase: phase, Status: StatusRunning}
		}
		idxs := make([]int, 0, len(atts))
		for i := range atts {
			idxs = append(idxs, i)
		}
		sortInts(idxs)
		for _, i := range idxs {
			out.Attempts = append(out.Attempts, atts[i]...)
		}
		if out.StartedAt.IsZero() && len(out.Attempts) > 0 {
			out.StartedAt = out.Attempts[0].StartedAt
		}
		x.Steps = append(x.Steps, &out)
	}
	if def != nil {
		for _, st := range def.main.steps {
			add("m."+st.Name, phaseMain, st.Name)
		}
		for _, st := range def.onFail.steps {
			add("f."+st.Name, phaseFailure, st.Name)
		}
	}
	// Steps no longer in the definition, in key order.
	var rest []string
	for k := range s.steps {
		rest = append(rest, k)
	}
	for k := range s.attempts {
		rest = append(rest, k)
	}
	sortStrings(rest)
	for _, k := range rest {
		phase := phaseMain
		if strings.HasPrefix(k, "f.") {
			phase = phaseFailure
		}
		add(k, phase, k[2:])
	}
	return x
}
