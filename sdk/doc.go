// Package sdk is the public software development kit for Heady plugins.
//
// A plugin is a program named heady-plugin-NAME that serves one or more
// components over gRPC (hashicorp/go-plugin). There are four component kinds:
//
//   - Action: runs one workflow step (inputs in, outputs and logs out).
//   - Healer: applies a healing strategy to an incident.
//   - Scaler: reports and changes the instance count of a target.
//   - Discoverer: scans a scope and reports the services it finds.
//
// The host addresses a component as "NAME.COMPONENT" (for example
// "greeter.hello"). Every component declares its configuration schema once
// in a Spec; the host decodes the component's HCL block against it and
// reports mistakes with file:line:col before the plugin is ever called.
//
// A minimal plugin:
//
//	func main() {
//		sdk.Serve(
//			sdk.WithName("greeter"),
//			sdk.WithVersion("0.1.0"),
//			sdk.WithAction(sdk.Spec{
//				Name:        "hello",
//				Description: "Returns a greeting.",
//				Config: sdk.Schema{Attributes: []sdk.Attribute{
//					{Name: "greeting", Type: sdk.TypeString, Default: "Hello"},
//				}},
//			}, func() sdk.Action { return &Hello{} }),
//		)
//	}
//
// Component lifecycle: new (the factory) → Init (optional, receives the
// Host) → Configure → calls → Close. Close is always called, also after a
// failed Configure, so it must be safe on a partially configured component.
//
// This package imports nothing from the host; it is a leaf that third-party
// plugin authors can depend on.
package sdk
