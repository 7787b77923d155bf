package config

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestClusterBlock(t *testing.T) {
	t.Run("defaults without block", func(t *testing.T) {
		p := mustLoad(t, `host {}`, LoadOptions{})
		want := Cluster{Bind: "127.0.0.1:7946", HeartbeatTimeout: 500 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond}
		if !reflect.DeepEqual(p.Cluster, want) {
			t.Fatalf("cluster = %+v, want %+v", p.Cluster, want)
		}
	})
	t.Run("full block", func(t *testing.T) {
		p := mustLoad(t, `
cluster {
  bind              = "127.0.0.1:7001"
  advertise         = "127.0.0.1:7001"
  join              = ["127.0.0.1:7002", "127.0.0.1:7003"]
  key               = "0123456789abcdef0123"
  heartbeat_timeout = "1s"
  election_timeout  = "2s"
}`, LoadOptions{})
		c := p.Cluster
		if !c.Enabled || c.Bind != "127.0.0.1:7001" || c.Advertise != "127.0.0.1:7001" || c.Key != "0123456789abcdef0123" ||
			!reflect.DeepEqual(c.Join, []string{"127.0.0.1:7002", "127.0.0.1:7003"}) ||
			c.HeartbeatTimeout != time.Second || c.ElectionTimeout != 2*time.Second || c.Bootstrap {
			t.Fatalf("cluster = %+v", c)
		}
	})
	errs := []struct {
		name, src, want string
	}{
		{"bad bind", `cluster { bind = "nope" }`, "Invalid cluster address"},
		{"bad join", `cluster { join = ["127.0.0.1"] }`, "Invalid cluster address"},
		{"unspecified advertise", `cluster { advertise = "0.0.0.0:7946" }`, "Invalid advertise address"},
		{"short key", `cluster { key = "short" }`, "Cluster key too short"},
		{"unknown attribute", `cluster { peers = [] }`, "Unsupported argument"},
		{"twice", "cluster {}\ncluster {}", "cluster"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			files := []SourceFile{{Path: "test.hcl", Bytes: []byte(tc.src)}}
			_, diags := LoadFiles(files, LoadOptions{Env: noEnv})
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			var buf bytes.Buffer
			_ = WriteDiagnostics(&buf, diags, files, false)
			if !strings.Contains(buf.String(), tc.want) || !strings.Contains(buf.String(), "test.hcl:") {
				t.Fatalf("diagnostics do not mention %q with a position:\n%s", tc.want, buf.String())
			}
		})
	}
}
