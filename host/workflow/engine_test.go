package workflow

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/config"
	"github.com/zclconf/go-cty/cty"
)

func TestBasicDataFlow(t *testing.T) {
	t.Parallel()
	w := wf("flow",
		&config.Step{Name: "a", Action: "heady.noop", Input: inputs(t, "greeting", `"hello ${event.data.name}"`, "n", `event.data.n + 1`)},
		&config.Step{Name: "b", Action: "heady.noop", DependsOn: []string{"a"}, Input: inputs(t, "upper", `upper(step.a.output.greeting)`, "wf", `workflow.name`, "v", `var.region`)},
	)
	h := newHarness(t, "", policy(w), Options{Vars: map[string]cty.Value{"region": cty.StringVal("eu")}}, nil)
	id := h.execute("flow", map[string]any{"name": "ada", "n": 41})
	x := h.waitDone(id, 5*time.Second)
	if x.Status != StatusSucceeded {
		t.Fatalf("status %s error %+v", x.Status, x.Error)
	}
	b := stepOf(x, "b")
	out := b.Output.(map[string]any)
	if out["upper"] != "HELLO ADA" || out["wf"] != "flow" || out["v"] != "eu" {
		t.Fatalf("b output %v", out)
	}
	if got := stepOf(x, "a").Output.(map[string]any)["n"]; got != float64(42) {
		t.Fatalf("a.n = %v", got)
	}
	if len(b.Attempts) != 1 || b.Attempts[0].IdempotencyKey != id+"/b/1" {
		t.Fatalf("attempts %+v", b.Attempts)
	}
	if x.Trigger.Kind != "manual" || x.Trigger.Actor != "tester" || x.Event.Type != "manual" {
		t.Fatalf("trigger %+v event %+v", x.Trigger, x.Event)
	}
	if h.rec.count("workflow.execute") != 1 {
		t.Fatalf("audit %v", h.rec.actions())
	}
	waitFor(t, time.Second, "execution audit", func() bool { return h.rec.count("execution.succeeded") == 1 })
	ctx := context.Background()
	_ = ctx
}

func TestListPaginationAndInfo(t *testing.T) {
	t.Parallel()
	w := wf("pg", step("s", "heady.noop"))
	w.Description = "paged"
	w.Triggers = []*config.Trigger{{Kind: config.TriggerSchedule, Cron: "0 2 * * *"}, {Kind: config.TriggerEvent, EventType: "x.*"}}
	disabled := wf("off", step("s", "heady.noop"))
	disabled.Enabled = false
	h := newHarness(t, "", policy(w, disabled), Options{}, nil)
	ctx := context.Background()
	var ids []string
	for i := 0; i < 5; i++ {
		id := h.execute("pg", map[string]any{"i": i})
		h.waitDone(id, 5*time.Second)
		ids = append(ids, id)
	}
	if _, err := h.e.Execute(ctx, "off", nil, "tester"); !errors.Is(err, ErrDisabled) {
		t.Fatalf("disabled: %v", err)
	}
	if _, err := h.e.Execute(ctx, "nope", nil, "tester"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	t.Run("pages newest first", func(t *testing.T) {
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			list, next, err := h.e.List(ctx, ListFilter{Workflow: "pg", Cursor: cursor, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range list {
				got = append(got, s.ID)
			}
			if next == "" {
				if pages != 2 {
					t.Fatalf("%d pages", pages+1)
				}
				break
			}
			cursor = next
		}
		want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("got %v want %v", got, want)
		}
	})
	t.Run("status filter", func(t *testing.T) {
		list, _, _ := h.e.List(ctx, ListFilter{Status: StatusFailed})
		if len(list) != 0 {
			t.Fatalf("%d failed", len(list))
		}
	})
	t.Run("workflows and stats", func(t *testing.T) {
		infos := h.e.Workflows()
		if len(infos) != 2 || infos[0].Name != "pg" || infos[0].Description != "paged" || infos[0].Succeeded != 5 ||
			infos[0].LastRun == nil || infos[0].LastRun.ID != ids[4] || len(infos[0].Triggers) != 2 || infos[1].Enabled {
			t.Fatalf("infos %+v", infos)
		}
		if next := infos[0].NextRun; next.Hour() != 2 || next.Minute() != 0 || !next.After(time.Now()) {
			t.Fatalf("next run %s", next)
		}
		if st := h.e.Stats(); st.ActiveWorkflows != 1 || st.Triggers != 2 || st.Succeeded != 5 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("get unknown", func(t *testing.T) {
		if _, err := h.e.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestSetPolicyRejectsBadWorkflows(t *testing.T) {
	t.Parallel()
	cyc := wf("cyc", step("a", "heady.noop", "b"), step("b", "heady.noop", "a"))
	unknownDep := wf("dep", step("a", "heady.noop", "zzz"))
	badCron := wf("cron", step("a", "heady.noop"))
	badCron.Triggers = []*config.Trigger{{Kind: config.TriggerSchedule, Cron: "not a cron"}}
	good := wf("good", step("a", "heady.noop"))
	e := New(nil, Options{})
	err := e.SetPolicy(policy(cyc, unknownDep, badCron, good))
	for _, want := range []string{"cyc", "cycle", "unknown step", "cron"} {
		if err == nil || !contains(err.Error(), want) {
			t.Fatalf("error %v does not mention %q", err, want)
		}
	}
	if infos := e.Workflows(); len(infos) != 1 || infos[0].Name != "good" {
		t.Fatalf("loaded %+v", infos)
	}
}
