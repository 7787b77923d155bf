package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/heady-dev/heady/host/client"
)

func workflowCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "workflow", Aliases: []string{"workflows", "wf"}, Short: "List, run and inspect workflows on a running host"}
	list := &cobra.Command{Use: "list", Short: "List workflows with their triggers and next run", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, cancel := ctx()
			defer cancel()
			var out struct {
				Items []struct {
					Name     string `json:"name"`
					Enabled  bool   `json:"enabled"`
					Triggers []struct {
						Text string `json:"text"`
					} `json:"triggers"`
					NextRun time.Time `json:"next_run"`
					LastRun *struct {
						Status string `json:"status"`
					} `json:"last_execution"`
				} `json:"items"`
			}
			if err := client.FromEnv().Do(c, http.MethodGet, "/workflows", nil, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tENABLED\tTRIGGERS\tNEXT RUN\tLAST")
			for _, w := range out.Items {
				var trig []string
				for _, t := range w.Triggers {
					trig = append(trig, t.Text)
				}
				next, last := "-", "-"
				if !w.NextRun.IsZero() {
					next = w.NextRun.Local().Format(time.RFC3339)
				}
				if w.LastRun != nil {
					last = w.LastRun.Status
				}
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\n", w.Name, w.Enabled, strings.Join(trig, "; "), next, last)
			}
			return tw.Flush()
		}}
	var ctxJSON string
	var wait bool
	run := &cobra.Command{Use: "run NAME", Short: "Trigger a workflow; --context is a JSON object visible as event.data", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, cancel := ctx()
			defer cancel()
			body := map[string]any{"context": map[string]any{}}
			if ctxJSON != "" {
				var m map[string]any
				if err := json.Unmarshal([]byte(ctxJSON), &m); err != nil {
					return fmt.Errorf("--context: not a JSON object: %w", err)
				}
				body["context"] = m
			}
			var out struct {
				ExecutionID string `json:"execution_id"`
			}
			cl := client.FromEnv()
			if err := cl.Do(c, http.MethodPost, "/workflows/"+url.PathEscape(args[0])+"/execute", body, &out); err != nil {
				return err
			}
			fmt.Println(out.ExecutionID)
			if !wait {
				return nil
			}
			for {
				var x struct {
					Status string `json:"status"`
				}
				if err := cl.Do(c, http.MethodGet, "/executions/"+out.ExecutionID, nil, &x); err != nil {
					return err
				}
				switch x.Status {
				case "succeeded":
					fmt.Fprintln(os.Stderr, "succeeded")
					return nil
				case "failed", "cancelled":
					fmt.Fprintln(os.Stderr, x.Status)
					return exitError{code: 1}
				}
				select {
				case <-c.Done():
					return c.Err()
				case <-time.After(200 * time.Millisecond):
				}
			}
		}}
	run.Flags().StringVar(&ctxJSON, "context", "", `JSON object passed as the execution context, e.g. '{"manual": true}'`)
	run.Flags().BoolVar(&wait, "wait", false, "wait for the execution to finish; exit 1 unless it succeeded")
	var status string
	var limit int
	execs := &cobra.Command{Use: "executions NAME", Short: "A workflow's executions, newest first", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, cancel := ctx()
			defer cancel()
			v := url.Values{"limit": {fmt.Sprint(limit)}}
			if status != "" {
				v.Set("status", status)
			}
			var out struct {
				Items []struct {
					ID        string    `json:"id"`
					Status    string    `json:"status"`
					CreatedAt time.Time `json:"created_at"`
					EndedAt   time.Time `json:"ended_at"`
					Trigger   struct {
						Kind string `json:"kind"`
					} `json:"trigger"`
				} `json:"items"`
			}
			if err := client.FromEnv().Do(c, http.MethodGet, "/workflows/"+url.PathEscape(args[0])+"/executions?"+v.Encode(), nil, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tTRIGGER\tCREATED\tDURATION")
			for _, x := range out.Items {
				dur := "-"
				if !x.EndedAt.IsZero() {
					dur = x.EndedAt.Sub(x.CreatedAt).Round(time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.ID, x.Status, x.Trigger.Kind, x.CreatedAt.Local().Format(time.RFC3339), dur)
			}
			return tw.Flush()
		}}
	execs.Flags().StringVar(&status, "status", "", "filter by status")
	execs.Flags().IntVar(&limit, "limit", 20, "how many")
	show := &cobra.Command{Use: "show EXECUTION_ID", Short: "One execution with steps, attempts, outputs and errors", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return getJSON("/executions/" + url.PathEscape(args[0])) }}
	cmd.AddCommand(list, run, execs, show)
	return cmd
}

func eventCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "event", Short: "Send events to a running host"}
	var data string
	emit := &cobra.Command{Use: "emit TYPE", Short: "Send an event; prints its id once it is durably stored", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, cancel := ctx()
			defer cancel()
			body := map[string]any{"type": args[0]}
			if data != "" {
				var m map[string]any
				if err := json.Unmarshal([]byte(data), &m); err != nil {
					return fmt.Errorf("--data: not a JSON object: %w", err)
				}
				body["data"] = m
			}
			var out struct {
				EventID string `json:"event_id"`
			}
			if err := client.FromEnv().Do(c, http.MethodPost, "/events", body, &out); err != nil {
				return err
			}
			fmt.Println(out.EventID)
			return nil
		}}
	emit.Flags().StringVar(&data, "data", "", "event data as a JSON object")
	cmd.AddCommand(emit)
	return cmd
}

func pluginsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "plugins", Short: "List and describe the plugins of a running host"}
	list := &cobra.Command{Use: "list", Short: "Plugins with state, pid and restarts", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, cancel := ctx()
			defer cancel()
			var out struct {
				Items []struct {
					Name       string `json:"name"`
					Version    string `json:"version"`
					State      string `json:"state"`
					PID        int    `json:"pid"`
					Restarts   int    `json:"restarts"`
					LastError  string `json:"last_error"`
					Components []struct {
						Name string `json:"name"`
					} `json:"components"`
				} `json:"items"`
			}
			if err := client.FromEnv().Do(c, http.MethodGet, "/plugins", nil, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tSTATE\tPID\tRESTARTS\tCOMPONENTS\tLAST ERROR")
			for _, p := range out.Items {
				var comps []string
				for _, c := range p.Components {
					comps = append(comps, c.Name)
				}
				pid := "-"
				if p.PID > 0 {
					pid = fmt.Sprint(p.PID)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", p.Name, p.Version, p.State, pid, p.Restarts, strings.Join(comps, ","), p.LastError)
			}
			return tw.Flush()
		}}
	describe := &cobra.Command{Use: "describe NAME", Short: "A plugin's manifest: components and config schemas", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return getJSON("/plugins/" + url.PathEscape(args[0]) + "/schema")
		}}
	cmd.AddCommand(list, describe)
	return cmd
}
