package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/store"
)

// seed appends the fixture below, one entry every 20 minutes from 10:00 UTC.
//
//	seq actor     kind    action            resource              outcome  security
//	1   alice     token   api.request       workflow/auto_backup  success
//	2   bob       token   api.request       workflow/auto_backup  denied   yes
//	3   workflow  system  workflow.execute  workflow/auto_backup  success
//	4   workflow  system  workflow.step     workflow/auto_backup  failure
//	5   healing   system  healing.restart   service/web           success
//	6   alice     token   policy.reload     policy/set            error
//	7   anonymous anon    auth.failure      token/hdy             denied   yes
//	8   alice     token   api.request       service/a/b           success
//	9   bob       token   workflow.execute  service/a             success
//	10  workflow  system  workflow.execute  workflow/health_check success
//	11  alice     token   api.request       service/a/b           failure
//	12  scaler    plugin  scaling.up        service/web           success
func seed(t *testing.T) (*Log, *clock) {
	t.Helper()
	c := newClock()
	_, l := newLog(t, c.Now)
	rows := []struct {
		actor, kind, action, rtype, rid, outcome string
		security                                 bool
	}{
		{"alice", ActorToken, "api.request", "workflow", "auto_backup", OutcomeSuccess, false},
		{"bob", ActorToken, "api.request", "workflow", "auto_backup", OutcomeDenied, true},
		{"workflow", ActorSystem, "workflow.execute", "workflow", "auto_backup", OutcomeSuccess, false},
		{"workflow", ActorSystem, "workflow.step", "workflow", "auto_backup", OutcomeFailure, false},
		{"healing", ActorSystem, "healing.restart", "service", "web", OutcomeSuccess, false},
		{"alice", ActorToken, "policy.reload", "policy", "set", OutcomeError, false},
		{"anonymous", ActorAnonymous, "auth.failure", "token", "hdy", OutcomeDenied, true},
		{"alice", ActorToken, "api.request", "service", "a/b", OutcomeSuccess, false},
		{"bob", ActorToken, "workflow.execute", "service", "a", OutcomeSuccess, false},
		{"workflow", ActorSystem, "workflow.execute", "workflow", "health_check", OutcomeSuccess, false},
		{"alice", ActorToken, "api.request", "service", "a/b", OutcomeFailure, false},
		{"scaler", ActorPlugin, "scaling.up", "service", "web", OutcomeSuccess, false},
	}
	for i, r := range rows {
		if i > 0 {
			c.Add(20 * time.Minute)
		}
		mustAppend(t, l, Entry{Actor: r.actor, ActorKind: r.kind, Action: r.action, ResourceType: r.rtype,
			ResourceID: r.rid, Outcome: r.outcome, Security: r.security, Source: "127.0.0.1:4000"})
	}
	return l, c
}

func seqsOf(es []Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func TestListFilters(t *testing.T) {
	l, _ := seed(t)
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		f    Filter
		want []uint64
	}{
		{"everything newest first", Filter{}, []uint64{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"everything oldest first", Filter{Asc: true}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{"actor", Filter{Actor: "alice"}, []uint64{11, 8, 6, 1}},
		{"actor ascending", Filter{Actor: "alice", Asc: true}, []uint64{1, 6, 8, 11}},
		{"unknown actor", Filter{Actor: "mallory"}, nil},
		{"actor is exact, not a prefix", Filter{Actor: "ali"}, nil},
		{"action exact", Filter{Action: "workflow.execute"}, []uint64{10, 9, 3}},
		{"action prefix", Filter{Action: "workflow."}, []uint64{10, 9, 4, 3}},
		{"action without dot is exact", Filter{Action: "workflow"}, nil},
		{"resource", Filter{ResourceType: "workflow", ResourceID: "auto_backup"}, []uint64{4, 3, 2, 1}},
		{"resource id with slash", Filter{ResourceType: "service", ResourceID: "a/b"}, []uint64{11, 8}},
		{"resource id prefix of another", Filter{ResourceType: "service", ResourceID: "a"}, []uint64{9}},
		{"resource type only", Filter{ResourceType: "service"}, []uint64{12, 11, 9, 8, 5}},
		{"outcome", Filter{Outcome: OutcomeDenied}, []uint64{7, 2}},
		{"security events", Filter{Security: ptr(true)}, []uint64{7, 2}},
		{"not security events", Filter{Security: ptr(false), Actor: "bob"}, []uint64{9}},
		{"since inclusive", Filter{Since: base.Add(180 * time.Minute)}, []uint64{12, 11, 10}},
		{"until exclusive", Filter{Until: base.Add(40 * time.Minute)}, []uint64{2, 1}},
		{"time window", Filter{Since: base.Add(30 * time.Minute), Until: base.Add(100 * time.Minute), Asc: true}, []uint64{3, 4, 5}},
		{"window after the end", Filter{Since: base.Add(24 * time.Hour)}, nil},
		{"window before the start", Filter{Until: base.Add(-time.Hour)}, nil},
		{"actor and outcome", Filter{Actor: "alice", Outcome: OutcomeFailure}, []uint64{11}},
		{"resource and time", Filter{ResourceType: "service", ResourceID: "a/b", Since: base.Add(150 * time.Minute)}, []uint64{11}},
		{"actor and action prefix", Filter{Actor: "workflow", Action: "workflow."}, []uint64{10, 4, 3}},
		{"limit", Filter{Limit: 2}, []uint64{12, 11}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := l.List(context.Background(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seqsOf(got), tt.want) {
				t.Fatalf("got %v, want %v", seqsOf(got), tt.want)
			}
		})
	}
}

func TestListPagination(t *testing.T) {
	_, l := newLog(t, nil)
	for i := range 25 {
		e := simple(i)
		if i%2 == 0 {
			e.Actor = "even"
		}
		mustAppend(t, l, e)
	}
	tests := []struct {
		name  string
		f     Filter
		pages [][]uint64
	}{
		{"newest first", Filter{Limit: 10}, [][]uint64{
			{25, 24, 23, 22, 21, 20, 19, 18, 17, 16}, {15, 14, 13, 12, 11, 10, 9, 8, 7, 6}, {5, 4, 3, 2, 1}}},
		{"oldest first", Filter{Limit: 10, Asc: true}, [][]uint64{
			{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, {21, 22, 23, 24, 25}}},
		{"exact pages leave no empty page", Filter{Limit: 5, Actor: "even"}, [][]uint64{
			{25, 23, 21, 19, 17}, {15, 13, 11, 9, 7}, {5, 3, 1}}},
		{"indexed ascending", Filter{Limit: 4, Actor: "ops", Asc: true}, [][]uint64{
			{2, 4, 6, 8}, {10, 12, 14, 16}, {18, 20, 22, 24}}},
		{"filtered scan", Filter{Limit: 3, Action: "api.", ResourceType: "workflow", ResourceID: "wf-0"}, [][]uint64{
			{25, 22, 19}, {16, 13, 10}, {7, 4, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			for i, want := range tt.pages {
				got, next, err := l.List(context.Background(), f)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(seqsOf(got), want) {
					t.Fatalf("page %d: got %v, want %v", i, seqsOf(got), want)
				}
				last := i == len(tt.pages)-1
				if last != (next == "") {
					t.Fatalf("page %d: next cursor %q", i, next)
				}
				f.Cursor = next
			}
		})
	}
	if _, _, err := l.List(context.Background(), Filter{Cursor: "not-a-cursor"}); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestTrail(t *testing.T) {
	l, _ := seed(t)
	got, next, err := l.Trail(context.Background(), "service", "web", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqsOf(got), []uint64{12}) || next == "" {
		t.Fatalf("first page %v next %q", seqsOf(got), next)
	}
	got, next, err = l.Trail(context.Background(), "service", "web", next, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqsOf(got), []uint64{5}) || next != "" {
		t.Fatalf("second page %v next %q", seqsOf(got), next)
	}
}

func TestStatistics(t *testing.T) {
	l, _ := seed(t)
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name         string
		since, until time.Time
		total, sec   int
		byActor      map[string]int
		byOutcome    map[string]int
		byHour       map[string]int
		actionAPI    int
	}{
		{
			name: "all", total: 12, sec: 2, actionAPI: 4,
			byActor:   map[string]int{"alice": 4, "bob": 2, "workflow": 3, "healing": 1, "anonymous": 1, "scaler": 1},
			byOutcome: map[string]int{"success": 7, "denied": 2, "failure": 2, "error": 1},
			byHour:    map[string]int{"2026-03-01T10:00Z": 3, "2026-03-01T11:00Z": 3, "2026-03-01T12:00Z": 3, "2026-03-01T13:00Z": 3},
		},
		{
			name: "one hour", since: base.Add(time.Hour), until: base.Add(2 * time.Hour), total: 3, sec: 0, actionAPI: 0,
			byActor:   map[string]int{"workflow": 1, "healing": 1, "alice": 1},
			byOutcome: map[string]int{"failure": 1, "success": 1, "error": 1},
			byHour:    map[string]int{"2026-03-01T11:00Z": 3},
		},
		{
			name: "empty range", since: base.Add(48 * time.Hour),
			byActor: map[string]int{}, byOutcome: map[string]int{}, byHour: map[string]int{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := l.Statistics(context.Background(), tt.since, tt.until)
			if err != nil {
				t.Fatal(err)
			}
			if s.Total != tt.total || s.Security != tt.sec || s.ByAction["api.request"] != tt.actionAPI {
				t.Fatalf("stats %+v", s)
			}
			for name, pair := range map[string][2]map[string]int{"actor": {s.ByActor, tt.byActor}, "outcome": {s.ByOutcome, tt.byOutcome}, "hour": {s.ByHour, tt.byHour}} {
				if fmt.Sprint(pair[0]) != fmt.Sprint(pair[1]) {
					t.Errorf("by %s = %v, want %v", name, pair[0], pair[1])
				}
			}
		})
	}
}

func TestExportJSONLines(t *testing.T) {
	l, _ := seed(t)
	var buf bytes.Buffer
	if err := l.Export(context.Background(), &buf, Filter{Asc: true, Limit: 1}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	var seqs []uint64
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if e.Hash == "" || e.ID == "" {
			t.Fatalf("exported entry lacks hash or id: %s", sc.Text())
		}
		seqs = append(seqs, e.Seq)
	}
	if !slices.Equal(seqs, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) {
		t.Fatalf("exported %v", seqs)
	}
	buf.Reset()
	if err := l.Export(context.Background(), &buf, Filter{Security: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Fatalf("security export has %d lines:\n%s", n, buf.String())
	}
}

func TestPrune(t *testing.T) {
	l, c := seed(t)
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

	n, err := l.Prune(ctx, base.Add(61*time.Minute)) // entries 1..4 are older
	if err != nil || n != 4 {
		t.Fatalf("prune: n=%d err=%v", n, err)
	}
	rep, err := l.Verify(ctx)
	if err != nil || !rep.OK || rep.Start != 5 || rep.Checked != 9 {
		t.Fatalf("verify after prune: %+v %v", rep, err)
	}
	all, _, err := l.List(ctx, Filter{Asc: true})
	if err != nil || len(all) == 0 || all[0].Seq != 5 {
		t.Fatalf("list after prune: %v %v", seqsOf(all), err)
	}
	if got, _, _ := l.List(ctx, Filter{ResourceType: "workflow", ResourceID: "auto_backup"}); len(got) != 0 {
		t.Fatalf("pruned entries still listed by resource: %v", seqsOf(got))
	}
	leftover := 0
	if err := l.st.Scan(store.ScanOptions{Prefix: resourcePrefix("workflow", "auto_backup"), KeysOnly: true}, func(string, []byte) (bool, error) {
		leftover++
		return true, nil
	}); err != nil || leftover != 0 {
		t.Fatalf("%d index keys of pruned entries remain (%v)", leftover, err)
	}
	if n, err := l.Prune(ctx, base.Add(61*time.Minute)); err != nil || n != 0 {
		t.Fatalf("second prune: %d %v", n, err)
	}

	// Prune everything, then keep appending: the chain continues from the anchor.
	c.Add(time.Hour)
	if n, err := l.Prune(ctx, c.Now()); err != nil || n != 9 {
		t.Fatalf("prune all: %d %v", n, err)
	}
	// Only the record of the prune itself remains.
	rep, err = l.Verify(ctx)
	if err != nil || !rep.OK || rep.Checked != 1 || rep.Start != 14 {
		t.Fatalf("verify pruned chain: %+v %v", rep, err)
	}
	rec, _, err := l.List(ctx, Filter{Action: "audit.prune"})
	if err != nil || len(rec) != 1 || rec[0].Seq != 14 || fmt.Sprint(rec[0].Details["count"]) != "9" || fmt.Sprint(rec[0].Details["anchor"]) != "13" {
		t.Fatalf("prune record: %+v %v", rec, err)
	}
	e := mustAppend(t, l, simple(1))
	if e.Seq != 15 {
		t.Fatalf("seq after prune = %d", e.Seq)
	}
	if rep, err := l.Verify(ctx); err != nil || !rep.OK || rep.Start != 14 || rep.Checked != 2 {
		t.Fatalf("verify after prune and append: %+v %v", rep, err)
	}
}

func TestPruneManyChunks(t *testing.T) {
	c := newClock()
	_, l := newLog(t, c.Now)
	ctx := context.Background()
	var wg = make(chan error, 2500)
	for i := range 2500 {
		go func() {
			_, err := l.Append(ctx, simple(i))
			wg <- err
		}()
	}
	for range 2500 {
		if err := <-wg; err != nil {
			t.Fatal(err)
		}
	}
	c.Add(time.Second)
	mustAppend(t, l, simple(0))
	n, err := l.Prune(ctx, c.Now())
	if err != nil || n != 2500 {
		t.Fatalf("prune: %d %v", n, err)
	}
	rep, err := l.Verify(ctx)
	if err != nil || !rep.OK || rep.Start != 2501 || rep.Checked != 2 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func TestRunRetention(t *testing.T) {
	l, c := seed(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.RunRetention(ctx, 0, time.Millisecond) // unlimited: returns at once
	c.Add(30 * time.Minute)                  // now 14:10; keep 2h prunes entries before 12:10 (seq 1..7)
	go func() {
		defer close(done)
		l.RunRetention(ctx, 2*time.Hour, 5*time.Millisecond)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rep, err := l.Verify(context.Background())
		if err != nil || !rep.OK {
			t.Fatalf("verify during retention: %+v %v", rep, err)
		}
		if rep.Start == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retention did not prune: %+v", rep)
		}
		runtime.Gosched()
	}
	cancel()
	<-done
}
