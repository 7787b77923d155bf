package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/heady-dev/heady/host/app"
	"github.com/heady-dev/heady/host/config"
)

func runCmd() *cobra.Command {
	var o app.Options
	var vars []string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Start the Heady host with the policies in --policies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Vars = map[string]string{}
			for _, v := range vars {
				k, val, ok := strings.Cut(v, "=")
				if !ok {
					return fmt.Errorf("--var %q: want NAME=VALUE", v)
				}
				o.Vars[k] = val
			}
			if !cmd.Flags().Changed("data") {
				o.DataDir = ""
			}
			if !cmd.Flags().Changed("listen") {
				o.Listen = ""
			}
			if !cmd.Flags().Changed("plugins") {
				o.PluginDirs = nil
			}
			o.BootstrapToken = os.Getenv("HEADY_BOOTSTRAP_TOKEN")
			o.ClusterKey = os.Getenv("HEADY_CLUSTER_KEY")
			return runHost(o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.PoliciesDir, "policies", "./policies", "directory of *.hcl policy files")
	f.StringVar(&o.DataDir, "data", "./data", "data directory (overrides host.data_dir)")
	f.StringVar(&o.Listen, "listen", ":3000", "API listen address (overrides host.listen)")
	f.StringSliceVar(&o.PluginDirs, "plugins", []string{"./bin/plugins"}, "plugin directories (overrides host.plugin_dirs)")
	f.StringVar(&debugAddr, "debug-addr", "", "serve Go runtime profiles (net/http/pprof) on this loopback address, e.g. 127.0.0.1:6060")
	f.StringArrayVar(&vars, "var", nil, "set a policy variable, NAME=VALUE (repeatable)")
	f.BoolVar(&o.Server, "server", false, "run as a cluster server (Raft); the key comes from cluster.key or HEADY_CLUSTER_KEY")
	f.StringSliceVar(&o.Join, "join", nil, "other servers' cluster addresses, HOST:PORT,... (overrides cluster.join)")
	f.StringVar(&o.ClusterBind, "cluster-addr", "", "this server's cluster address, HOST:PORT (overrides cluster.bind and cluster.advertise)")
	f.BoolVar(&o.Bootstrap, "bootstrap", false, "with --server and no --join: start a one-server cluster that others join later")
	return cmd
}

// debugAddr is --debug-addr.
var debugAddr string

// serveProfiles serves net/http/pprof on a loopback address only.
func serveProfiles(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--debug-addr %q: profiles are served on a loopback address only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--debug-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() { _ = http.Serve(ln, mux) }()
	return nil
}

func runHost(o app.Options) error {
	ctx := context.Background()
	if debugAddr != "" {
		if err := serveProfiles(debugAddr); err != nil {
			return err
		}
	}
	h, err := app.Start(ctx, o)
	if err != nil {
		var se *app.StartupError
		if errors.As(err, &se) {
			config.WriteDiagnostics(os.Stderr, se.Diags, se.Files, isTerminal(os.Stderr))
			return exitError{code: 1}
		}
		return err
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			res := h.Reload(ctx, "heady", "signal")
			fmt.Println("SIGHUP:", res.Message)
			continue
		}
		fmt.Printf("%s received, shutting down\n", sig)
		signal.Stop(sigs)
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := h.Shutdown(sctx); err != nil {
			return err
		}
		fmt.Println("Heady stopped")
		return nil
	}
	return nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
