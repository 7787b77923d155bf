package app

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/web"
)

func init() {
	registerSubsystem(func(h *Host) Subsystem { return &webSubsystem{h: h} })
}

// webSubsystem serves the dashboard on the API's listener and feeds the
// live stream from the workflow engine and the store's commits.
type webSubsystem struct {
	h      *Host
	hub    *web.Hub
	unsub  func()
	unhook func()
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (w *webSubsystem) Name() string { return "web" }

func (w *webSubsystem) Start(_ context.Context, pol *config.Policy) (string, error) {
	dash, err := web.New()
	if err != nil {
		return "", err
	}
	w.hub = web.NewHub(web.HubOptions{})
	if w.h.eng() != nil {
		w.unsub = w.h.eng().Subscribe(w.hub.ExecutionUpdate)
	}
	if w.h.store != nil {
		w.unhook = w.h.store.OnCommit(w.hub.ObserveCommit)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.wg.Add(1)
	go func() { defer w.wg.Done(); w.hub.Run(ctx) }()
	if w.h.apiSvc != nil {
		w.h.apiSvc.Stream = w.hub
		w.h.apiSvc.Mount = dash.Mount
	}
	listen := w.h.opts.Listen
	if listen == "" && pol != nil {
		listen = pol.Host.Listen
	}
	if host, port, err := net.SplitHostPort(listen); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		listen = net.JoinHostPort("localhost", port)
	}
	return fmt.Sprintf("Dashboard served at http://%s/ (assets %s)", listen, dash.Version()), nil
}

func (w *webSubsystem) Reload(context.Context, *config.Policy) error { return nil }

func (w *webSubsystem) Stop(context.Context) error {
	if w.unsub != nil {
		w.unsub()
	}
	if w.unhook != nil {
		w.unhook()
	}
	if w.hub != nil {
		w.hub.Close()
	}
	if w.cancel != nil {
		w.cancel()
	}
	w.wg.Wait()
	return nil
}
