package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/heady-dev/heady/host/client"
)

func clusterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Inspect and change the cluster of a running server (HEADY_ADDR, HEADY_TOKEN)"}
	cmd.AddCommand(
		&cobra.Command{Use: "status", Short: "This server's view of the cluster: leader, term, commit index", Args: cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error { return getJSON("/cluster/status") }},
		&cobra.Command{Use: "members", Short: "List the servers with their state", Args: cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				c, cancel := ctx()
				defer cancel()
				var out struct {
					Members []struct {
						ID, Address, API, Suffrage, State string
					} `json:"members"`
				}
				if err := client.FromEnv().Do(c, http.MethodGet, "/cluster/members", nil, &out); err != nil {
					return err
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATE\tSUFFRAGE\tAPI")
				for _, m := range out.Members {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.ID, m.State, m.Suffrage, m.API)
				}
				return tw.Flush()
			}},
		&cobra.Command{Use: "join ADDR", Short: "Add the server whose cluster address is ADDR", Args: cobra.ExactArgs(1),
			RunE: func(_ *cobra.Command, args []string) error {
				return clusterPost(http.MethodPost, "/cluster/members", map[string]string{"address": args[0]})
			}},
		&cobra.Command{Use: "remove ID", Short: "Remove a (dead) server from the cluster", Args: cobra.ExactArgs(1),
			RunE: func(_ *cobra.Command, args []string) error {
				return clusterPost(http.MethodDelete, "/cluster/members/"+url.PathEscape(args[0]), nil)
			}},
		&cobra.Command{Use: "leave", Short: "Take the server at HEADY_ADDR out of the cluster", Args: cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error { return clusterPost(http.MethodPost, "/cluster/leave", nil) }},
	)
	return cmd
}

func clusterPost(method, path string, body any) error {
	c, cancel := ctx()
	defer cancel()
	var out map[string]any
	if err := client.FromEnv().Do(c, method, path, body, &out); err != nil {
		return err
	}
	return printJSON(out)
}
