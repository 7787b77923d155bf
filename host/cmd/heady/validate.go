package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/heady-dev/heady/host/config"
)

func validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check a policies directory; prints FILE:LINE:COL diagnostics, exits 1 when invalid",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "./policies"
			if len(args) == 1 {
				dir = args[0]
			}
			p, diags := config.Load(dir, config.LoadOptions{})
			var files []config.SourceFile
			if p != nil {
				files = p.Files
			}
			config.WriteDiagnostics(os.Stderr, diags, files, isTerminal(os.Stderr))
			if diags.HasErrors() {
				fmt.Fprintf(os.Stderr, "%s: %d errors\n", dir, len(diags.Errs()))
				return exitError{code: 1}
			}
			fmt.Printf("%s: valid (%d files, version %s)\n", dir, len(files), p.Version)
			return nil
		},
	}
}
