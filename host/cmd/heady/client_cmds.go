package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/heady-dev/heady/host/app"
	"github.com/heady-dev/heady/host/client"
)

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Println("heady", app.Version)
		},
	}
}

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}

// getJSON prints the JSON answer of a GET, indented.
func getJSON(path string) error {
	c, cancel := ctx()
	defer cancel()
	var out json.RawMessage
	if err := client.FromEnv().Do(c, http.MethodGet, path, nil, &out); err != nil {
		return err
	}
	return printJSON(out)
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func statusCmd() *cobra.Command {
	return &cobra.Command{Use: "status", Short: "Show the status of a running host (HEADY_ADDR, HEADY_TOKEN)", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return getJSON("/status") }}
}

func healthCmd() *cobra.Command {
	return &cobra.Command{Use: "health", Short: "Show the health of a running host", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return getJSON("/health") }}
}

func policiesCmd() *cobra.Command {
	return &cobra.Command{Use: "policies", Short: "List the policies a running host has loaded", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return getJSON("/policies") }}
}

func reloadCmd() *cobra.Command {
	return &cobra.Command{Use: "reload", Short: "Ask a running host to reload its policies", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, cancel := ctx()
			defer cancel()
			var out map[string]any
			err := client.FromEnv().Do(c, http.MethodPost, "/reload", nil, &out)
			if out != nil {
				_ = printJSON(out)
			}
			return err
		}}
}

func auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read and verify the audit trail of a running host"}
	verify := &cobra.Command{Use: "verify", Short: "Verify the hash chain; exits 1 at the first altered or removed entry", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, cancel := ctx()
			defer cancel()
			var rep struct {
				OK       bool   `json:"ok"`
				Checked  uint64 `json:"checked"`
				FirstBad uint64 `json:"first_bad"`
				Reason   string `json:"reason"`
			}
			err := client.FromEnv().Do(c, http.MethodGet, "/audit/verify", nil, &rep)
			if err != nil && rep.Reason == "" {
				return err
			}
			if !rep.OK {
				fmt.Printf("audit chain BROKEN at entry %d: %s (%d entries checked)\n", rep.FirstBad, rep.Reason, rep.Checked)
				return exitError{code: 1}
			}
			fmt.Printf("audit chain OK: %d entries verified\n", rep.Checked)
			return nil
		}}
	var q struct{ actor, action, rtype, rid, outcome, since, until string }
	var limit int
	logs := &cobra.Command{Use: "logs", Short: "List audit entries", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := url.Values{}
			set := func(k, val string) {
				if val != "" {
					v.Set(k, val)
				}
			}
			set("actor", q.actor)
			set("action", q.action)
			set("resource_type", q.rtype)
			set("resource_id", q.rid)
			set("outcome", q.outcome)
			set("since", q.since)
			set("until", q.until)
			v.Set("limit", fmt.Sprint(limit))
			return getJSON("/audit/logs?" + v.Encode())
		}}
	f := logs.Flags()
	f.StringVar(&q.actor, "actor", "", "filter by actor")
	f.StringVar(&q.action, "action", "", "filter by action (or prefix ending in '.')")
	f.StringVar(&q.rtype, "resource-type", "", "filter by resource type")
	f.StringVar(&q.rid, "resource-id", "", "filter by resource id")
	f.StringVar(&q.outcome, "outcome", "", "filter by outcome")
	f.StringVar(&q.since, "since", "", "RFC 3339 time or duration back (1h)")
	f.StringVar(&q.until, "until", "", "RFC 3339 time or duration back")
	f.IntVar(&limit, "limit", 50, "entries to show")
	export := &cobra.Command{Use: "export", Short: "Export the audit trail as JSON lines to stdout", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			resp, err := client.FromEnv().Raw(c, http.MethodGet, "/api/v1/automation/audit/export?order=asc", nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				return fmt.Errorf("export: %s: %s", resp.Status, b)
			}
			_, err = io.Copy(os.Stdout, resp.Body)
			return err
		}}
	cmd.AddCommand(verify, logs, export)
	return cmd
}

func tokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens of a running host (needs an admin HEADY_TOKEN)"}
	var role, ttl string
	create := &cobra.Command{Use: "create NAME", Short: "Create a token; prints it once", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, cancel := ctx()
			defer cancel()
			var out struct {
				Token string         `json:"token"`
				Info  map[string]any `json:"info"`
			}
			body := map[string]any{"name": args[0], "role": role}
			if ttl != "" {
				body["ttl"] = ttl
			}
			if err := client.FromEnv().Do(c, http.MethodPost, "/tokens", body, &out); err != nil {
				return err
			}
			fmt.Println(out.Token)
			fmt.Fprintf(os.Stderr, "token %v (%s, role %s) created; it is not shown again\n", out.Info["id"], args[0], role)
			return nil
		}}
	create.Flags().StringVar(&role, "role", "reader", "reader, operator or admin")
	create.Flags().StringVar(&ttl, "ttl", "", "lifetime such as 720h (default: no expiry)")
	list := &cobra.Command{Use: "list", Short: "List tokens", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, cancel := ctx()
			defer cancel()
			var out struct {
				Items []struct {
					ID        string    `json:"id"`
					Name      string    `json:"name"`
					Role      string    `json:"role"`
					CreatedAt time.Time `json:"created_at"`
					ExpiresAt time.Time `json:"expires_at"`
					Revoked   bool      `json:"revoked"`
				} `json:"items"`
			}
			if err := client.FromEnv().Do(c, http.MethodGet, "/tokens", nil, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tEXPIRES\tREVOKED")
			for _, t := range out.Items {
				exp := "never"
				if !t.ExpiresAt.IsZero() {
					exp = t.ExpiresAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", t.ID, t.Name, t.Role, t.CreatedAt.Format(time.RFC3339), exp, t.Revoked)
			}
			return tw.Flush()
		}}
	revoke := &cobra.Command{Use: "revoke ID", Short: "Revoke a token", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, cancel := ctx()
			defer cancel()
			if err := client.FromEnv().Do(c, http.MethodDelete, "/tokens/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Println("revoked", args[0])
			return nil
		}}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
