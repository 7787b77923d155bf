package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The dashboard tests drive the real dashboard of a real host in headless
// Chromium (Debian's chromium package).

const dashboardPolicy = `
workflow "dashboard_demo" {
  description = "Two steps; the first takes a moment so progress can be watched."
  step "wait" {
    action = "exec.run"
    input {
      command = ["sleep", "1.5"]
    }
  }
  step "echo" {
    action     = "exec.run"
    depends_on = ["wait"]
    input {
      command = ["echo", "done"]
    }
  }
}

service "dash_svc" {
  command = ["sleep", "3600"]
  restart = "never" # the health check notices the death and heals it
}

check "dash_svc" {
  type                      = "process"
  service                   = "dash_svc"
  interval                  = "1s"
  failures_before_unhealthy = 1
  heal "restart" {}
}
`

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, n := range []string{os.Getenv("HEADY_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if n == "" {
			continue
		}
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Skip("chromium not installed: apt-get install -y chromium (or set HEADY_CHROMIUM)")
	return ""
}

// newBrowser starts a fresh headless Chromium and returns a tab context.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// run runs browser actions with a deadline.
func run(t *testing.T, ctx context.Context, within time.Duration, what string, actions ...chromedp.Action) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	if err := chromedp.Run(c, actions...); err != nil {
		var loc string
		_ = chromedp.Run(ctx, chromedp.Location(&loc))
		t.Fatalf("%s: %v (at %s)", what, err, loc)
	}
}

func login(t *testing.T, ctx context.Context, base, token, wantRole string) {
	t.Helper()
	var role string
	run(t, ctx, 15*time.Second, "log in",
		chromedp.Navigate(base+"/"),
		chromedp.ActionFunc(func(c context.Context) error {
			// A fresh sign-in: forget any earlier token of this tab.
			return chromedp.Evaluate(`sessionStorage.clear()`, nil).Do(c)
		}),
		chromedp.Reload(),
		chromedp.WaitVisible(`#token`, chromedp.ByQuery),
		chromedp.SendKeys(`#token`, token, chromedp.ByQuery),
		chromedp.Click(`#login-submit`, chromedp.ByQuery),
		chromedp.WaitVisible(`#role`, chromedp.ByQuery),
		chromedp.Text(`#role`, &role, chromedp.ByQuery),
	)
	if role != wantRole {
		t.Fatalf("signed in with role %q, want %q", role, wantRole)
	}
	var inURL bool
	run(t, ctx, 5*time.Second, "check the URL", chromedp.Evaluate(fmt.Sprintf(`location.href.includes(%q)`, token), &inURL))
	if inURL {
		t.Fatal("the token is in the URL")
	}
}

// goTo navigates to a dashboard route and waits until its content is shown.
func goTo(t *testing.T, ctx context.Context, route string) {
	t.Helper()
	page := strings.SplitN(strings.TrimPrefix(route, "#/"), "/", 2)[0]
	page = strings.SplitN(page, "?", 2)[0]
	run(t, ctx, 15*time.Second, "open "+route,
		chromedp.Evaluate(fmt.Sprintf(`location.hash = %q`, route), nil),
		chromedp.WaitVisible(fmt.Sprintf(`main[data-ready=%q]`, page), chromedp.ByQuery))
}

func writeControls(t *testing.T, ctx context.Context) int {
	t.Helper()
	var n int
	run(t, ctx, 5*time.Second, "count write controls", chromedp.Evaluate(`document.querySelectorAll('[data-write]').length`, &n))
	return n
}

func TestDashboardInBrowser(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	dir := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	writePolicy(t, dir, "dashboard.hcl", dashboardPolicy)
	writePolicy(t, dir, "manual.hcl", manualWorkflows)
	h := startHost(t, hostOpts{policies: dir, args: learnQuickly})
	base := "http://" + h.addr
	ctx := newBrowser(t)

	login(t, ctx, base, h.token, "admin")
	run(t, ctx, 15*time.Second, "see the status tiles live",
		chromedp.WaitVisible(`#status-tiles`, chromedp.ByQuery),
		chromedp.WaitVisible(`#live.live`, chromedp.ByQuery))

	var execID string
	t.Run("trigger a workflow and watch it complete live", func(t *testing.T) {
		goTo(t, ctx, "#/workflows/dashboard_demo?run=1")
		if n := writeControls(t, ctx); n == 0 {
			t.Fatal("an admin sees no write controls")
		}
		run(t, ctx, 20*time.Second, "run the workflow",
			chromedp.SetValue(`#run-context`, `{"who": "browser"}`, chromedp.ByQuery),
			chromedp.Click(`#run-submit`, chromedp.ByQuery),
			// The execution page opens while the first step still sleeps...
			chromedp.WaitVisible(`#exec-status[data-status="running"], #exec-status[data-status="pending"]`, chromedp.ByQuery),
			chromedp.Evaluate(`location.hash.split('/')[2]`, &execID),
			// ...and turns to succeeded through the live stream, with no reload.
			chromedp.Evaluate(`window.__mark = 1`, nil),
			chromedp.WaitVisible(`#exec-status[data-status="succeeded"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`#timeline li.succeeded[data-step="echo"]`, chromedp.ByQuery))
		var mark int
		run(t, ctx, 5*time.Second, "check no reload", chromedp.Evaluate(`window.__mark || 0`, &mark))
		if mark != 1 {
			t.Fatal("the page reloaded instead of updating live")
		}
		if execID == "" {
			t.Fatal("no execution id in the location")
		}
	})

	t.Run("healing incident appears after a supervised service is killed", func(t *testing.T) {
		var svc struct {
			Items []struct {
				Name string `json:"name"`
				PID  int    `json:"pid"`
			} `json:"items"`
		}
		pid := 0
		eventually(t, 15*time.Second, "dash_svc running", func() bool {
			if err := h.admin().Do(bg(), "GET", "/services", nil, &svc); err != nil {
				return false
			}
			for _, s := range svc.Items {
				if s.Name == "dash_svc" && s.PID > 0 {
					pid = s.PID
				}
			}
			return pid > 0
		})
		goTo(t, ctx, "#/health")
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill service: %v", err)
		}
		run(t, ctx, 30*time.Second, "incident shown live",
			chromedp.WaitVisible(`#incidents li[data-check="dash_svc"]`, chromedp.ByQuery))
	})

	t.Run("apply a suggestion", func(t *testing.T) {
		seedRepeatedSequence(t, h)
		if err := h.admin().Do(bg(), "POST", "/intelligence/analyze", map[string]any{}, nil); err != nil {
			t.Fatalf("analyze: %v", err)
		}
		var sugs struct {
			Items []struct {
				ID, Status, Policy string
			} `json:"items"`
		}
		if err := h.admin().Do(bg(), "GET", "/intelligence/suggestions?status=pending", nil, &sugs); err != nil {
			t.Fatalf("suggestions: %v", err)
		}
		id := ""
		for _, s := range sugs.Items {
			if s.Policy != "" {
				id = s.ID
				break
			}
		}
		if id == "" {
			t.Fatalf("no applicable suggestion after a repeated sequence: %+v", sugs.Items)
		}
		goTo(t, ctx, "#/intelligence")
		sel := fmt.Sprintf(`[data-suggestion=%q] button.apply`, id)
		run(t, ctx, 20*time.Second, "apply",
			chromedp.Click(sel, chromedp.ByQuery),
			chromedp.WaitVisible(fmt.Sprintf(`[data-suggestion=%q][data-status="applied"]`, id), chromedp.ByQuery))
	})

	t.Run("a reader sees no write controls and is refused", func(t *testing.T) {
		var tok struct {
			Token string `json:"token"`
		}
		if err := h.admin().Do(bg(), "POST", "/tokens", map[string]any{"name": "viewer", "role": "reader"}, &tok); err != nil || tok.Token == "" {
			t.Fatalf("create reader token: %v %+v", err, tok)
		}
		login(t, ctx, base, tok.Token, "reader")
		routes := []string{"#/overview", "#/workflows", "#/workflows/dashboard_demo?run=1", "#/executions", "#/health", "#/intelligence", "#/policies", "#/discovery", "#/plugins", "#/audit", "#/scaling"}
		if execID != "" {
			routes = append(routes, "#/executions/"+execID)
		}
		for _, r := range routes {
			goTo(t, ctx, r)
			if n := writeControls(t, ctx); n != 0 {
				t.Errorf("%s: a reader sees %d write controls", r, n)
			}
		}
		var status int
		run(t, ctx, 10*time.Second, "try a write with the reader token",
			chromedp.Evaluate(`fetch('/api/v1/automation/workflows/dashboard_demo/execute', {method: 'POST',
				headers: {'Authorization': 'Bearer ' + sessionStorage.getItem('heady.token'), 'Content-Type': 'application/json'}, body: '{}'}).then(r => r.status)`,
				&status, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
		if status != 403 {
			t.Fatalf("reader write answered %d, want 403", status)
		}
	})
}

// TestDashboardScreenshots writes a screenshot of every page at laptop
// and phone sizes into $HEADY_SCREENSHOTS and logs how long each page took
// from navigation to content shown. With HEADY_DASHBOARD_SEED=N it first
// stores N executions through the API (the render-time benchmark).
func TestDashboardScreenshots(t *testing.T) {
	out := os.Getenv("HEADY_SCREENSHOTS")
	if out == "" {
		t.Skip("set HEADY_SCREENSHOTS to a directory to produce screenshots (make screenshots)")
	}
	chromiumPath(t)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	writePolicy(t, dir, "dashboard.hcl", dashboardPolicy+`
workflow "dashboard_fast" {
  description = "One in-process step, for seeding execution history."
  step "noop" {
    action = "heady.evaluate_scaling"
  }
}
`)
	h := startHost(t, hostOpts{policies: dir})
	if n := envInt("HEADY_DASHBOARD_SEED"); n > 0 {
		seedExecutions(t, h, n)
	}
	if err := h.admin().Do(bg(), "POST", "/workflows/dashboard_demo/execute", map[string]any{"context": map[string]any{"who": "screenshots"}}, nil); err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t)
	login(t, ctx, "http://"+h.addr, h.token, "admin")
	var first string
	eventually(t, 20*time.Second, "the demo execution", func() bool {
		var page struct {
			Items []struct{ ID, Status string } `json:"items"`
		}
		_ = h.admin().Do(bg(), "GET", "/workflows/dashboard_demo/executions", nil, &page)
		if len(page.Items) > 0 && page.Items[0].Status == "succeeded" {
			first = page.Items[0].ID
			return true
		}
		return false
	})
	routes := [][2]string{{"overview", "#/overview"}, {"workflows", "#/workflows"}, {"workflow", "#/workflows/dashboard_demo?run=1"},
		{"executions", "#/executions"}, {"execution", "#/executions/" + first}, {"health", "#/health"}, {"scaling", "#/scaling"},
		{"discovery", "#/discovery"}, {"audit", "#/audit"}, {"intelligence", "#/intelligence"}, {"plugins", "#/plugins"}, {"policies", "#/policies"}}
	for _, vp := range [][2]int64{{1280, 800}, {390, 844}} {
		run(t, ctx, 10*time.Second, "viewport", chromedp.EmulateViewport(vp[0], vp[1]))
		for _, r := range routes {
			from := "#/policies"
			if r[0] == "policies" {
				from = "#/overview"
			}
			goTo(t, ctx, from)
			start := time.Now()
			goTo(t, ctx, r[1])
			took := time.Since(start)
			var png []byte
			run(t, ctx, 20*time.Second, "screenshot", chromedp.FullScreenshot(&png, 100))
			name := filepath.Join(out, fmt.Sprintf("%s-%dx%d.png", r[0], vp[0], vp[1]))
			if err := os.WriteFile(name, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("render %-12s %4dx%-4d %6.0f ms  %s", r[0], vp[0], vp[1], float64(took.Microseconds())/1000, name)
			fmt.Printf("dashboard_render page=%s viewport=%dx%d ms=%.1f\n", r[0], vp[0], vp[1], float64(took.Microseconds())/1000)
		}
	}
}

func envInt(name string) int {
	var n int
	_, _ = fmt.Sscan(os.Getenv(name), &n)
	return n
}

// seedExecutions runs the fast workflow n times through the API, 16 at a
// time, and waits until they are all stored as finished.
func seedExecutions(t *testing.T, h *hostProc, n int) {
	t.Helper()
	start := time.Now()
	jobs := make(chan int)
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		go func() {
			var err error
			for range jobs {
				if e := h.admin().Do(bg(), "POST", "/workflows/dashboard_fast/execute", map[string]any{}, nil); e != nil && err == nil {
					err = e
				}
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	for w := 0; w < 16; w++ {
		if err := <-errs; err != nil {
			t.Fatalf("seed executions: %v", err)
		}
	}
	t.Logf("seeded %d executions in %v", n, time.Since(start))
	fmt.Printf("dashboard_seed executions=%d seconds=%.1f\n", n, time.Since(start).Seconds())
}
