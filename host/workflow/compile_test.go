package workflow

import (
	"testing"
	"time"

	"github.com/heady-dev/heady/host/config"
)

func TestScheduleParsing(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 10, 12, 0, 30, 0, time.UTC)
	ny, _ := time.LoadLocation("America/New_York")
	cases := []struct {
		name string
		trig config.Trigger
		want time.Time
	}{
		{"five fields", config.Trigger{Cron: "15 * * * *"}, time.Date(2026, 3, 10, 12, 15, 0, 0, time.UTC)},
		{"six fields with seconds", config.Trigger{Cron: "*/10 * * * * *"}, time.Date(2026, 3, 10, 12, 0, 40, 0, time.UTC)},
		{"descriptor", config.Trigger{Cron: "@daily"}, time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)},
		{"every in cron", config.Trigger{Cron: "@every 5m"}, base.Add(5 * time.Minute)},
		{"every field", config.Trigger{Every: 90 * time.Second}, base.Add(90 * time.Second)},
		{"time zone", config.Trigger{Cron: "0 2 * * *", Timezone: "America/New_York"}, time.Date(2026, 3, 11, 2, 0, 0, 0, ny)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := tc.trig
			tr.Kind = config.TriggerSchedule
			d, err := compileWorkflow(&config.Workflow{Name: "w", Enabled: true, Triggers: []*config.Trigger{&tr},
				Steps: []*config.Step{{Name: "s", Action: "heady.noop"}}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			td := d.triggers[0]
			if got := td.sched.Next(base.In(td.loc)); !got.Equal(tc.want) {
				t.Fatalf("next after %s = %s, want %s", base, got, tc.want)
			}
		})
	}
	for _, bad := range []config.Trigger{{Cron: "61 * * * *"}, {Cron: "* * * * *", Timezone: "Mars/Olympus"}, {}, {Every: time.Millisecond}} {
		bad.Kind = config.TriggerSchedule
		if _, err := compileWorkflow(&config.Workflow{Name: "w", Triggers: []*config.Trigger{&bad}, Steps: []*config.Step{{Name: "s", Action: "a.b"}}}, nil); err == nil {
			t.Errorf("schedule %+v accepted", bad)
		}
	}
}
