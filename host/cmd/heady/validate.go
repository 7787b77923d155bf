package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/pluginhost"
)

func validateCmd() *cobra.Command {
	var pluginDirs []string
	cmd := &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check a policies directory, plugin configuration included; prints FILE:LINE:COL diagnostics, exits 1 when invalid",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "./policies"
			if len(args) == 1 {
				dir = args[0]
			}
			p, diags := config.Load(dir, config.LoadOptions{})
			if !diags.HasErrors() {
				dirs := pluginDirs
				if !cmd.Flags().Changed("plugins") && len(p.Host.PluginDirs) > 0 {
					dirs = p.Host.PluginDirs
				}
				diags = append(diags, validatePlugins(p, dirs)...)
			}
			var files []config.SourceFile
			if p != nil {
				files = p.Files
			}
			_ = config.WriteDiagnostics(os.Stderr, diags, files, isTerminal(os.Stderr))
			if diags.HasErrors() {
				fmt.Fprintf(os.Stderr, "%s: %d errors\n", dir, len(diags.Errs()))
				return exitError{code: 1}
			}
			fmt.Printf("%s: valid (%d files, version %s)\n", dir, len(files), p.Version)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&pluginDirs, "plugins", []string{"./bin/plugins"}, "plugin directories whose schemas check plugin blocks")
	return cmd
}

// validatePlugins decodes every plugin component block against the schema
// its binary declares (--describe), without starting any plugin.
func validatePlugins(p *config.Policy, dirs []string) hcl.Diagnostics {
	m := pluginhost.New(pluginhost.Options{Dirs: dirs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		EvalContext: func() *hcl.EvalContext { return p.EvalContext(nil) }})
	return append(m.Validate(p.Plugins), m.ValidateUses(p)...)
}
