# Auto-scaling.
#
# auto_scale_check (workflows.hcl) evaluates every scaling policy every 10
# minutes; a policy with a shorter evaluation_interval also runs on its own.
# In threshold mode a policy scales up by `step` when any metric is above
# its scale_up threshold, and down only when all metrics are below
# scale_down. In target mode (metric "x" { target = 60 }) it asks for
# ceil(current × value / target). Metric names are cpu, memory, disk
# (percent of the host), requests_per_min (the API's own traffic, or the
# pool's when its backend reports it), or a custom metric pushed to
# POST /api/v1/automation/metrics/custom (custom.NAME) or by a plugin.
#
# Every decision, including the ones that held and why, is listed at
# GET /api/v1/automation/scaling/history.
#
# This example only records its decisions (dry_run): no backend runs out of
# the box. To act, give it a backend and remove dry_run, for example:
#
#   backend "process_pool" {
#     service = "app"          # or command = ["./bin/app", "--port", "{port}"]
#     proxy   = "127.0.0.1:8080"
#   }

scaling "app" {
  dry_run  = true
  min      = 1
  max      = 4
  cooldown = "5m" # wait between scaling actions (cooldown_up / cooldown_down split it)

  # Scale down only to the highest count recommended over this window, so
  # a noisy metric does not make the count oscillate.
  stabilization_window = "5m"

  # When a metric has no recent value: hold, scale_up or fail.
  missing_metric = "hold"

  metric "cpu" {
    scale_up   = 70
    scale_down = 30
  }

  metric "memory" {
    scale_up   = 75
    scale_down = 40
  }

  metric "requests_per_min" {
    scale_up   = 1000
    scale_down = 100
  }
}
