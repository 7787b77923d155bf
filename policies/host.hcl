# Host settings. Everything here is optional: Heady runs with zero
# configuration, and command-line flags override these values.
# Uncomment a line to change a default.

# host {
#   name        = "node-1"           # default: the machine's hostname
#   listen      = ":3000"            # API address
#   data_dir    = "./data"           # Badger database, backups, logs
#   plugin_dirs = ["./bin/plugins"]  # where heady-plugin-* binaries live
#   log_level   = "info"             # debug | info | warn | error
#   log_format  = "text"             # text | json
#   sync_writes = false              # fsync (group commit) before acknowledging writes
#
#   metrics_retention = "7d"         # metric samples expire after this
#   audit_retention   = "0"          # "0" keeps the audit trail forever
#   history_max_age   = "30d"        # execution history pruned by auto_optimize
#   history_max_count = 100000
#
#   body_limit      = 1048576        # bytes per API request body
#   request_timeout = "30s"
#   workers         = 8              # workflow step workers (default 2 x CPU, at least 4)
#   event_queue     = 100000         # accepted events waiting for dispatch
# }

# API authentication. Writes always need a bearer token (`heady token create`).
# auth {
#   anonymous_reads   = "loopback"   # loopback | always | never
#   lockout_threshold = 10           # failed attempts ...
#   lockout_window    = "1m"         # ... within this window ...
#   lockout_duration  = "5m"         # ... lock the client out for this long
# }

# Variables make the defaults below overridable without editing them:
#   heady run -var app_url=http://127.0.0.1:9000
# or reference the environment in a default: default = env("APP_URL", "...")

variable "app_url" {
  description = "Base URL of your application; the event workflows call its API."
  default     = "http://127.0.0.1:8090"
}

variable "backup_schedule" {
  description = "When auto_backup runs (cron)."
  default     = "0 */6 * * *"
}

variable "backups_to_keep" {
  description = "How many verified backups auto_backup keeps."
  default     = 7
}

variable "health_schedule" {
  description = "When the health_check workflow runs (cron)."
  default     = "*/5 * * * *"
}

variable "optimize_schedule" {
  description = "When auto_optimize runs (cron, in optimize_timezone)."
  default     = "0 2 * * *"
}

variable "optimize_timezone" {
  description = "Time zone for the auto_optimize schedule."
  default     = "UTC"
}

variable "scale_check_schedule" {
  description = "When auto_scale_check runs (cron)."
  default     = "*/10 * * * *"
}

variable "content_webhook_url" {
  description = "Where on_content_publish delivers a signed webhook; empty disables the delivery."
  default     = ""
}

variable "webhook_secret" {
  description = "HMAC secret for outgoing content webhooks."
  default     = env("HEADY_WEBHOOK_SECRET", "")
}
