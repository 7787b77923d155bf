// Command heady-plugin-scale is the scale plugin: Heady's built-in scaler
// backends.
//
//   - process_pool runs N replicas of a command on their own ports as
//     children of the plugin, health-waits each new one, registers it as a
//     registry node (node.registered / node.deregistered events), drains
//     replicas gracefully on scale-down, and can put a load-balancing proxy
//     in front of them that reports the pool's request rate as the metric
//     service.POLICY.requests_per_min (metric.sample events).
//   - exec runs the operator's script to scale (with the desired count) and
//     to read back the current count.
//   - webhook POSTs the desired count to a URL and reads the current count
//     from its answer (or from a GET).
//
// The backend's own count is authoritative: the process pool reports the
// replicas that are alive, so one killed from outside is noticed at the
// next evaluation.
package main

import "github.com/heady-dev/heady/sdk"

// Version is the plugin's version.
const Version = "1.0.0"

func main() { sdk.Serve(Options()...) }

// Options are the sdk.Serve options of heady-plugin-scale.
func Options() []sdk.Option {
	return []sdk.Option{
		sdk.WithName("scale"),
		sdk.WithVersion(Version),
		sdk.WithDescription("Scaler backends: a local process pool, an operator script, a webhook."),
		sdk.WithScaler(poolSpec, func() sdk.Scaler { return newPoolScaler() }),
		sdk.WithScaler(execSpec, func() sdk.Scaler { return &execScaler{} }),
		sdk.WithScaler(webhookSpec, func() sdk.Scaler { return &webhookScaler{} }),
	}
}

var poolSpec = sdk.Spec{
	Name:        "process_pool",
	Description: "Runs N replicas of a command on their own loopback ports, each registered as a node; drains them on scale-down.",
	Inputs: sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "command", Type: sdk.TypeStringList, Description: "The replica's argument vector (no shell). {port} in an element is replaced by the replica's port; PORT is also set in its environment. Required unless service is set.", Example: `["./bin/worker", "--port", "{port}"]`},
		{Name: "service", Type: sdk.TypeString, Description: "Name of a service block whose command, environment and directory the replicas run (instead of command).", Example: `"worker"`},
		{Name: "env", Type: sdk.TypeStringMap, Description: "Extra environment variables of each replica.", Example: `{ MODE = "replica" }`},
		{Name: "dir", Type: sdk.TypeString, Description: "Working directory of the replicas (the plugin's when empty).", Example: `"/srv/app"`},
		{Name: "port_min", Type: sdk.TypeNumber, Default: 18100, Description: "Lowest port a replica may listen on.", Example: "18100"},
		{Name: "port_max", Type: sdk.TypeNumber, Default: 18199, Description: "Highest port a replica may listen on.", Example: "18199"},
		{Name: "health_path", Type: sdk.TypeString, Default: "", Description: "HTTP path that must answer below 500 before a new replica counts; empty: the port accepting connections is enough.", Example: `"/healthz"`},
		{Name: "health_timeout", Type: sdk.TypeDuration, Default: "15s", Description: "How long a new replica may take to become healthy before it is killed and the scale-up fails.", Example: `"30s"`},
		{Name: "drain_timeout", Type: sdk.TypeDuration, Default: "10s", Description: "Grace period between SIGTERM and SIGKILL (of the replica's process group) on scale-down.", Example: `"20s"`},
		{Name: "proxy", Type: sdk.TypeString, Default: "", Description: "Listen address of a round-robin HTTP proxy in front of the replicas (loopback recommended); it counts the pool's requests. Empty: no proxy.", Example: `"127.0.0.1:8080"`},
		{Name: "rate_window", Type: sdk.TypeDuration, Default: "60s", Description: "Window over which the proxy's request rate is measured.", Example: `"30s"`},
		{Name: "report_interval", Type: sdk.TypeDuration, Default: "10s", Description: "How often the proxy reports service.POLICY.requests_per_min to the host.", Example: `"10s"`},
		{Name: "labels", Type: sdk.TypeStringMap, Description: "Labels added to each replica's node registration.", Example: `{ tier = "web" }`},
	}},
}

var execSpec = sdk.Spec{
	Name:        "exec",
	Description: "Runs the operator's script: `COMMAND... scale N` to scale, `COMMAND... current` to read the count (the last integer it prints).",
	Inputs: sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "command", Type: sdk.TypeStringList, Required: true, Description: "The script's argument vector (no shell); `scale N` or `current` is appended. HEADY_POLICY, HEADY_ACTION and HEADY_DESIRED are set in its environment.", Example: `["./scripts/scale.sh"]`},
		{Name: "env", Type: sdk.TypeStringMap, Description: "Extra environment variables.", Example: `{ CLUSTER = "prod" }`},
		{Name: "dir", Type: sdk.TypeString, Description: "Working directory.", Example: `"/srv/ops"`},
		{Name: "timeout", Type: sdk.TypeDuration, Default: "60s", Description: "Deadline of each run; the script's process group is killed after it.", Example: `"2m"`},
	}},
}

var webhookSpec = sdk.Spec{
	Name:        "webhook",
	Description: "POSTs {policy, desired} as JSON to a URL to scale and GETs it to read {current}.",
	Inputs: sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "url", Type: sdk.TypeString, Required: true, Description: "http(s) URL of the scaling endpoint.", Example: `"https://ops.example.com/scale/web"`},
		{Name: "headers", Type: sdk.TypeStringMap, Description: "Extra request headers.", Example: `{ Authorization = "Bearer ${env("OPS_TOKEN")}" }`},
		{Name: "secret", Type: sdk.TypeString, Default: "", Description: "When set, each body is signed with HMAC-SHA256 in X-Heady-Signature-256 (sha256=HEX).", Example: `env("SCALE_SECRET")`},
		{Name: "timeout", Type: sdk.TypeDuration, Default: "30s", Description: "Deadline of each request.", Example: `"10s"`},
	}},
}
