# Health checks and self-healing.
#
# Each check runs every `interval` (default 30s). After
# `failures_before_unhealthy` failures in a row (default 3) the check is
# unhealthy and its heal blocks are tried in order: the first strategy,
# then the next if the check is still failing at its next run, and so on.
# `successes_before_healthy` passes in a row (default 1) end the incident.
# Healing stops after 5 attempts that did not help within 10 minutes (or
# when every strategy was tried), raises an alert and tries again 30
# minutes later. History: GET /api/v1/automation/health/incidents.

check "store" {
  type     = "store" # the embedded database answers reads and writes
  interval = "30s"

  # A locked or busy database usually recovers on its own: wait and retry.
  heal "wait_retry" {}

  heal "alert" {}
}

check "disk" {
  type      = "disk"
  path      = "."  # the file system holding the data directory
  threshold = 90   # percent used
  interval  = "1m"

  # Disk full: run the cleanup workflow.
  heal "run_workflow" {
    workflow = "auto_optimize"
  }

  heal "alert" {}
}

check "memory" {
  type      = "memory"
  threshold = 90 # percent of system memory used

  # High memory: clear caches and run the Go garbage collector.
  heal "clear_caches" {}

  heal "alert" {}
}

check "plugins" {
  type = "plugins" # every plugin process answers its health probe

  # A crashed plugin is restarted by the host; recycle restarts one that
  # is alive but not answering.
  heal "recycle" {}

  heal "alert" {}
}

# Supervise your own processes and restart them when they fail:
#
# service "app" {
#   command      = ["./bin/app", "--port", "8090"]
#   port         = 8090
#   restart      = "always" # restarted at once when it exits
#   max_restarts = 5        # within window; then failed, alerted,
#   window       = "10m"    # and tried again after retry_after
#   retry_after  = "30m"
# }
#
# check "app" {
#   type    = "process"
#   service = "app"
#   heal "restart" {}
# }
#
# check "app_http" {
#   type = "http"
#   url  = "${var.app_url}/healthz"
#   heal "restart" {
#     service = "app"
#   }
# }
#
# Alerts go to the log unless alert blocks say otherwise:
#
# alert "ops" {
#   kind   = "webhook" # log | webhook | email
#   url    = "https://hooks.example.com/heady"
#   remind = "1h"      # repeat while unresolved
# }
