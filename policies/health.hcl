# Health checks and self-healing.
#
# Each check runs every `interval` (default 30s). After
# `failures_before_unhealthy` failures in a row (default 3) the check is
# unhealthy and its heal blocks are tried in order: the first strategy,
# then the next if the check is still failing, and so on.

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
#   command = ["./bin/app", "--port", "8090"]
#   port    = 8090
#   restart = "always"
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
