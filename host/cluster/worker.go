package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// LeaseSource is where a worker claims calls: the leader's Queue itself,
// or the leader's API over HTTP (HTTPSource).
type LeaseSource interface {
	Claim(ctx context.Context, w Worker, max int) ([]Task, error)
	Heartbeat(ctx context.Context, w Worker, ids []string) (lost []string, err error)
	Complete(ctx context.Context, w Worker, id string, r TaskResult) error
}

// Local adapts a Queue to LeaseSource; get returns the current queue (nil
// while this server does not lead).
type Local struct{ Get func() *Queue }

var errNoQueue = errors.New("cluster: no lease queue here")

func (l Local) Claim(ctx context.Context, w Worker, max int) ([]Task, error) {
	q := l.Get()
	if q == nil {
		return nil, errNoQueue
	}
	ctx, cancel := context.WithTimeout(ctx, MaxClaimWait)
	defer cancel()
	return q.Claim(ctx, w, max)
}

func (l Local) Heartbeat(_ context.Context, w Worker, ids []string) ([]string, error) {
	q := l.Get()
	if q == nil {
		return ids, nil
	}
	return q.Heartbeat(w, ids), nil
}

func (l Local) Complete(_ context.Context, w Worker, id string, r TaskResult) error {
	q := l.Get()
	if q == nil {
		return errNoQueue
	}
	return q.Complete(w, id, r)
}

// Lease protocol paths under the API prefix, and their bodies.
const (
	LeaseClaimPath     = "/cluster/leases/claim"
	LeaseHeartbeatPath = "/cluster/leases/heartbeat"
	LeaseCompletePath  = "/cluster/leases/complete"
)

// ClaimRequest is the body of a claim; Wait is the long-poll in ms.
type ClaimRequest struct {
	Worker Worker `json:"worker"`
	Max    int    `json:"max"`
	WaitMs int    `json:"wait_ms"`
}

// ClaimResponse lists the leased calls.
type ClaimResponse struct {
	Tasks []Task `json:"tasks"`
}

// HeartbeatRequest keeps leases alive.
type HeartbeatRequest struct {
	Worker Worker   `json:"worker"`
	Leases []string `json:"leases"`
}

// HeartbeatResponse lists the leases the worker no longer holds.
type HeartbeatResponse struct {
	Lost []string `json:"lost"`
}

// CompleteRequest delivers a result.
type CompleteRequest struct {
	Worker Worker     `json:"worker"`
	ID     string     `json:"id"`
	Result TaskResult `json:"result"`
}

// HTTPSource claims from a server's API (which forwards to the leader).
type HTTPSource struct {
	// Base returns the API base URL ("http://127.0.0.1:3000/api/v1/automation");
	// "" while unknown.
	Base   func() string
	Token  string
	Client *http.Client
	Wait   time.Duration
}

func (s HTTPSource) post(ctx context.Context, path string, in, out any) error {
	base := s.Base()
	if base == "" {
		return errNoQueue
	}
	b, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.Token)
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode == http.StatusNotFound && path == LeaseCompletePath {
		return ErrUnknownLease
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("cluster: worker: %s: %s: %s", path, resp.Status, bytes.TrimSpace(body))
	}
	if out != nil && len(body) > 0 {
		return json.Unmarshal(body, out)
	}
	return nil
}

func (s HTTPSource) Claim(ctx context.Context, w Worker, max int) ([]Task, error) {
	wait := s.Wait
	if wait <= 0 {
		wait = MaxClaimWait
	}
	var out ClaimResponse
	err := s.post(ctx, LeaseClaimPath, ClaimRequest{Worker: w, Max: max, WaitMs: int(wait.Milliseconds())}, &out)
	return out.Tasks, err
}

func (s HTTPSource) Heartbeat(ctx context.Context, w Worker, ids []string) ([]string, error) {
	var out HeartbeatResponse
	err := s.post(ctx, LeaseHeartbeatPath, HeartbeatRequest{Worker: w, Leases: ids}, &out)
	return out.Lost, err
}

func (s HTTPSource) Complete(ctx context.Context, w Worker, id string, r TaskResult) error {
	return s.post(ctx, LeaseCompletePath, CompleteRequest{Worker: w, ID: id, Result: r}, nil)
}

// RunWorker claims and runs calls with slots concurrent loops until ctx
// ends. run executes one call; while it runs the worker heartbeats every
// interval and cancels run's context if the lease is lost.
func RunWorker(ctx context.Context, src LeaseSource, w Worker, slots int, interval time.Duration, log *slog.Logger,
	run func(ctx context.Context, t Task) TaskResult) {
	if slots <= 0 {
		slots = 1
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var wg sync.WaitGroup
	for i := 0; i < slots; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			backoff := 50 * time.Millisecond
			for ctx.Err() == nil {
				// The source bounds the wait to MaxClaimWait; the margin keeps
				// a call handed over at the last moment from being dropped.
				cctx, cancel := context.WithTimeout(ctx, MaxClaimWait+3*time.Second)
				tasks, err := src.Claim(cctx, w, 1)
				cancel()
				if err != nil {
					select {
					case <-ctx.Done():
					case <-time.After(backoff):
					}
					backoff = min(backoff*2, time.Second)
					continue
				}
				backoff = 50 * time.Millisecond
				for _, t := range tasks {
					runLease(ctx, src, w, interval, log, t, run)
				}
			}
		}()
	}
	wg.Wait()
}

func runLease(ctx context.Context, src LeaseSource, w Worker, interval time.Duration, log *slog.Logger, t Task,
	run func(ctx context.Context, t Task) TaskResult) {
	tctx, cancel := context.WithCancel(ctx)
	if !t.Deadline.IsZero() {
		tctx, cancel = context.WithDeadline(ctx, t.Deadline)
	}
	defer cancel()
	stop := make(chan struct{})
	var hb sync.WaitGroup
	hb.Add(1)
	go func() {
		defer hb.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				lost, err := src.Heartbeat(tctx, w, []string{t.ID})
				if err == nil && len(lost) > 0 {
					log.Warn("lease lost while running; abandoning the call", "lease", t.ID)
					cancel()
					return
				}
			}
		}
	}()
	res := run(tctx, t)
	close(stop)
	hb.Wait()
	if tctx.Err() != nil && ctx.Err() == nil && t.Deadline.IsZero() {
		return // lease lost: the call goes to another worker
	}
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer ccancel()
	if err := src.Complete(cctx, w, t.ID, res); err != nil && !errors.Is(err, ErrUnknownLease) {
		log.Warn("could not deliver a result", "lease", t.ID, "err", err)
	}
}
