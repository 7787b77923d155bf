// Package plugintest is the harness plugin authors use to test their
// components over real gRPC: in-process (Start) or as a built binary
// (Build + StartBinary), with an in-memory Host that records the callbacks
// the components make, and CheckManifest for schema well-formedness.
//
//	func TestHello(t *testing.T) {
//		p := plugintest.Start(t, myplugin.Options()...)
//		ctx := context.Background()
//		if _, err := p.Configure(ctx, "hello", nil); err != nil {
//			t.Fatal(err)
//		}
//		resp, err := p.RunAction(ctx, sdk.ActionRequest{Component: "hello", Inputs: map[string]any{"name": "Ada"}})
//		...
//	}
package plugintest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/client"
	"github.com/heady-dev/heady/sdk/internal/testhook"
)

// Plugin is a started plugin connected over gRPC. The embedded Conn offers
// Configure, RunAction, Heal, ScaleCurrent, Scale and Scan.
type Plugin struct {
	*client.Conn
	// Manifest is what the plugin reported over gRPC.
	Manifest sdk.Manifest
	// Host records the callbacks the plugin made.
	Host *Host
	// PID is the plugin's process id (this process for Start).
	PID int
}

// Start serves the components described by opts (the same options passed
// to sdk.Serve) in this process over real gRPC and connects to them. The
// plugin stops when the test ends.
func Start(t testing.TB, opts ...sdk.Option) *Plugin {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rc, done, err := testhook.ServeInProcess(ctx, opts)
	if err != nil {
		cancel()
		t.Fatalf("plugintest: start: %v", err)
	}
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          client.PluginSet(),
		Reattach:         rc,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.NewNullLogger(),
	})
	t.Cleanup(func() {
		pc.Kill()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("plugintest: in-process plugin did not stop")
		}
	})
	return connect(t, pc, os.Getpid())
}

// StartBinary launches a plugin binary the way the host does (go-plugin
// handshake, AutoMTLS) and connects to it. The process is stopped when the
// test ends.
func StartBinary(t testing.TB, path string) *Plugin {
	t.Helper()
	cmd := exec.Command(path)
	cmd.SysProcAttr = procAttr()
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          client.PluginSet(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           hclog.NewNullLogger(),
		StartTimeout:     30 * time.Second,
	})
	t.Cleanup(pc.Kill)
	if _, err := pc.Start(); err != nil {
		t.Fatalf("plugintest: start %s: %v", path, err)
	}
	pid := 0
	if rc := pc.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	return connect(t, pc, pid)
}

func connect(t testing.TB, pc *plugin.Client, pid int) *Plugin {
	t.Helper()
	conn, err := client.Dispense(pc)
	if err != nil {
		t.Fatalf("plugintest: dispense: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := conn.Manifest(ctx)
	if err != nil {
		t.Fatalf("plugintest: manifest: %v", err)
	}
	if err := sdk.CheckCompatible(sdk.Version, m.SDKVersion); err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	h := NewHost()
	if err := conn.Init(ctx, m.Name, h); err != nil {
		t.Fatalf("plugintest: init: %v", err)
	}
	return &Plugin{Conn: conn, Manifest: m, Host: h, PID: pid}
}

// Build compiles the Go package pkg (an import path or a directory
// relative to the test's working directory) into a temporary directory and
// returns the binary's path, named heady-plugin-NAME after the last path
// element unless it already has that prefix.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	base := filepath.Base(pkg)
	if abs, err := filepath.Abs(pkg); err == nil && (strings.HasPrefix(pkg, ".") || filepath.IsAbs(pkg)) {
		base = filepath.Base(abs)
	}
	if !strings.HasPrefix(base, "heady-plugin-") {
		base = "heady-plugin-" + strings.TrimSuffix(base, "-plugin")
	}
	out := filepath.Join(t.TempDir(), base)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("plugintest: go build %s: %v\n%s", pkg, err, stderr.String())
	}
	return out
}

// Describe runs path --describe and decodes the manifest it prints.
func Describe(t testing.TB, path string) sdk.Manifest {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--describe").Output()
	if err != nil {
		t.Fatalf("plugintest: %s --describe: %v", path, err)
	}
	var m sdk.Manifest
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("plugintest: %s --describe: decode: %v\n%s", path, err, out)
	}
	return m
}

// CheckManifest fails the test unless the manifest is well formed: name,
// versions, unique components of known kinds, well-formed schemas (names are
// identifiers, no duplicates, known types, defaults match their type,
// required attributes have no default), a description on every component
// and attribute, and an sdk version this host accepts.
func CheckManifest(t testing.TB, m sdk.Manifest) {
	t.Helper()
	if err := m.Validate(); err != nil {
		t.Errorf("plugintest: %v", err)
		return
	}
	if err := sdk.CheckCompatible(sdk.Version, m.SDKVersion); err != nil {
		t.Errorf("plugintest: %v", err)
	}
	if m.ProtocolVersion != sdk.ProtocolVersion {
		t.Errorf("plugintest: protocol version %d, want %d", m.ProtocolVersion, sdk.ProtocolVersion)
	}
	for _, c := range m.Components {
		if strings.TrimSpace(c.Description) == "" {
			t.Errorf("plugintest: component %s has no description", c.Name)
		}
		for _, a := range c.Config.Attributes {
			if strings.TrimSpace(a.Description) == "" {
				t.Errorf("plugintest: component %s: attribute %s has no description", c.Name, a.Name)
			}
		}
	}
}
