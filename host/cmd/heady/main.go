// Command heady is the Heady automation host: the daemon (`heady run`), the
// policy checker (`heady validate`) and a client of a running host.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries an exit code without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	root := &cobra.Command{
		Use:           "heady",
		Short:         "Heady: a self-hosted, zero-touch automation host",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(runCmd(), agentCmd(), clusterCmd(), validateCmd(), versionCmd(), statusCmd(), healthCmd(), reloadCmd(),
		policiesCmd(), auditCmd(), tokenCmd(), workflowCmd(), eventCmd(), pluginsCmd(), intelCmd())
	if err := root.Execute(); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "heady:", err)
		os.Exit(1)
	}
}
