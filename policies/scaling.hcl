# Auto-scaling.
#
# auto_scale_check (workflows.hcl) evaluates every scaling policy every 10
# minutes. In threshold mode a policy scales up when any metric is above its
# scale_up threshold, and down when all metrics are below scale_down. Metric
# names are cpu, memory, disk (percent), requests_per_min, or a custom metric
# your application reports.
#
# This example only records its decisions (dry_run): no backend runs out of
# the box. To act, give it a backend and remove dry_run, for example:
#
#   backend "process_pool" {
#     service = "app"
#   }

scaling "app" {
  dry_run  = true
  min      = 1
  max      = 4
  cooldown = "5m" # wait between scaling actions

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
