// Command demoapp is a small web application that Heady's built-in event
// workflows drive: it registers users and publishes content (emitting
// user.registered and content.published to Heady), and serves the API the
// on_user_register and on_content_publish workflows call back into
// (workspaces, permissions, previews, search, a signed webhook receiver).
// It exposes its whole state for tests and can be told to fail its health
// check to exercise healing.
//
//	demoapp --listen 127.0.0.1:8090 --heady http://127.0.0.1:3000 \
//	        --heady-token TOKEN --webhook-secret S [--data DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "demoapp:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("demoapp", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8090", "address to listen on")
	heady := fs.String("heady", "http://127.0.0.1:3000", "Heady's base URL; empty disables event emission")
	token := fs.String("heady-token", os.Getenv("HEADY_TOKEN"), "bearer token for Heady's API (default $HEADY_TOKEN)")
	secret := fs.String("webhook-secret", os.Getenv("HEADY_WEBHOOK_SECRET"), "HMAC secret of incoming webhooks (default $HEADY_WEBHOOK_SECRET)")
	data := fs.String("data", "", "directory for state.json; in memory when empty")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	app, err := New(Config{HeadyURL: *heady, HeadyToken: *token, WebhookSecret: *secret, DataDir: *data, Logger: log})
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: *listen, Handler: app.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("demoapp listening", "addr", *listen, "heady", *heady, "data", *data)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
