package healing

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/services"
	"github.com/heady-dev/heady/sdk"
)

// supervisorHealer restarts services in process, as the heal plugin's
// restart does through the host.
type supervisorHealer struct{ sup *services.Supervisor }

func (h supervisorHealer) Heal(ctx context.Context, strategy string, inc sdk.Incident) (sdk.Outcome, error) {
	name, _ := inc.Options["service"].(string)
	if _, err := h.sup.Restart(ctx, name, services.RestartOptions{Reason: "test"}); err != nil {
		return sdk.Outcome{}, err
	}
	return sdk.Outcome{Healed: true}, nil
}

// TestExitWakesProcessCheck: a service that its policy does not restart is
// checked as soon as it exits, not at the check's next interval, and healed.
func TestExitWakesProcessCheck(t *testing.T) {
	var e *Engine
	sup := services.New(services.Options{LogDir: t.TempDir(), Notify: func(_ context.Context, typ string, data map[string]any) {
		if restart, _ := data["restart"].(bool); typ == services.EventExited && !restart {
			e.WakeService(data["service"].(string))
		}
	}})
	defer sup.Close(context.Background())
	e = New(Options{Store: openStore(t), Services: sup, Healer: supervisorHealer{sup}})
	defer e.Stop(context.Background())
	svc := &config.Service{Name: "worker", Command: []string{"sleep", "60"}, Restart: "never", StopSignal: "SIGTERM",
		StopTimeout: time.Second, MaxRestarts: 5, Window: time.Minute, RetryAfter: time.Hour}
	if err := sup.Apply(context.Background(), []*config.Service{svc}); err != nil {
		t.Fatal(err)
	}
	e.Apply(context.Background(), []*config.Check{{Name: "worker", Type: "process", Service: "worker", Interval: time.Hour,
		Timeout: time.Second, FailuresBeforeUnhealthy: 1, SuccessesBeforeHealthy: 1, Heal: []*config.HealStep{{Strategy: "restart"}}}})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, _ := sup.Get("worker")
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		now, _ := sup.Get("worker")
		if now.Running() && now.PID != st.PID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healed within 5s with a 1h interval: %+v", now)
		}
		time.Sleep(5 * time.Millisecond)
	}
	incs, _, _ := e.Incidents(context.Background(), 10, "", "worker")
	if len(incs) != 1 || incs[0].Attempts[0].Strategy != "restart" {
		t.Fatalf("incidents %+v", incs)
	}
}
