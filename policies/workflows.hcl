# The six built-in workflows.
#
# A workflow has triggers (schedule, event, webhook, workflow) and steps.
# Each step runs an action "PLUGIN.COMPONENT"; actions under "heady." are
# built into the host. Steps without depends_on start at once, in parallel;
# a step that reads step.NAME.output must depend on NAME. Inputs are HCL
# expressions over event.*, step.NAME.output.*, var.* and env("NAME").

# Back up the database every 6 hours, prove the backup restores, keep the
# newest few.
workflow "auto_backup" {
  description = "Back up the database, verify the backup, prune old backups."

  trigger "schedule" {
    cron = var.backup_schedule
  }

  # Never run two backups at once; skip a run while one is in progress.
  concurrency {
    limit    = 1
    overflow = "skip"
  }

  step "backup" {
    action = "store.backup"
    input {
      dir = "backups"
    }
    retry {
      attempts      = 3
      initial_delay = "10s"
      max_delay     = "5m"
      multiplier    = 3
    }
  }

  step "verify" {
    action     = "store.verify_backup"
    depends_on = ["backup"]
    input {
      path = step.backup.output.path
    }
  }

  step "prune" {
    action     = "store.prune_backups"
    depends_on = ["verify"]
    input {
      dir  = "backups"
      keep = var.backups_to_keep
    }
  }
}

# Run every health check and raise an alert when something is unhealthy.
workflow "health_check" {
  description = "Check all systems; alert when unhealthy."

  trigger "schedule" {
    cron = var.health_schedule
  }

  concurrency {
    limit    = 1
    overflow = "skip"
  }

  step "checks" {
    action = "heady.run_checks"
  }

  step "alert" {
    action     = "notify.send"
    depends_on = ["checks"]
    if         = !step.checks.output.healthy
    input {
      severity = "warning"
      title    = "Heady: unhealthy components"
      message  = "Unhealthy: ${join(", ", step.checks.output.unhealthy)}"
    }
  }
}

# Nightly housekeeping: caches, expired tokens, old history, storage.
workflow "auto_optimize" {
  description = "Clear caches, expire tokens, prune history, compact storage."

  trigger "schedule" {
    cron     = var.optimize_schedule
    timezone = var.optimize_timezone
    catch_up = "once" # if the host was down at 02:00, run once when it is back
  }

  concurrency {
    limit    = 1
    overflow = "skip"
  }

  step "clear_caches" {
    action = "heady.clear_caches"
  }

  step "expire_tokens" {
    action     = "store.expire_tokens"
    depends_on = ["clear_caches"]
  }

  step "prune_history" {
    action     = "store.prune_history"
    depends_on = ["expire_tokens"]
  }

  # Badger value-log garbage collection and compaction.
  step "gc" {
    action     = "store.gc"
    depends_on = ["prune_history"]
    timeout    = "30m"
  }
}

# Evaluate every scaling policy (see scaling.hcl).
workflow "auto_scale_check" {
  description = "Evaluate whether scaling is needed."

  trigger "schedule" {
    cron = var.scale_check_schedule
  }

  concurrency {
    limit    = 1
    overflow = "skip"
  }

  step "evaluate" {
    action = "heady.evaluate_scaling"
  }
}

# When a user signs up: create their workspace, make them its owner, and
# welcome them. Emit the event with
#   POST /api/v1/automation/events {"type": "user.registered", "data": {...}}
workflow "on_user_register" {
  description = "Create a workspace, assign permissions, send a welcome email."

  trigger "event" {
    type = "user.registered"
  }

  # Default retry for every step below.
  retry {
    attempts      = 5
    initial_delay = "1s"
    max_delay     = "1m"
    retry_on      = ["transient", "timeout"]
  }

  step "create_workspace" {
    action = "http.request"
    input {
      method = "POST"
      url    = "${var.app_url}/api/workspaces"
      json = {
        user_id = event.data.user_id
        name    = "${try(event.data.name, event.data.email)}'s workspace"
      }
    }
  }

  step "assign_permissions" {
    action     = "http.request"
    depends_on = ["create_workspace"]
    input {
      method = "POST"
      url    = "${var.app_url}/api/permissions"
      json = {
        user_id      = event.data.user_id
        workspace_id = step.create_workspace.output.json.id
        role         = "owner"
      }
    }
  }

  step "welcome_email" {
    action     = "email.send"
    depends_on = ["assign_permissions"]
    input {
      to      = event.data.email
      subject = "Welcome to your new workspace"
      body    = "Hello ${try(event.data.name, "there")}, your workspace is ready."
    }
  }

  # Runs only when a step above failed for good.
  on_failure "notify" {
    action = "notify.send"
    input {
      severity = "error"
      title    = "User onboarding failed"
      message  = "on_user_register failed for user ${event.data.user_id}"
    }
  }
}

# When content is published: build a preview and index it for search in
# parallel, then notify subscribers with a signed webhook.
workflow "on_content_publish" {
  description = "Generate a preview, update search, deliver webhooks."

  trigger "event" {
    type = "content.published"
  }

  retry {
    attempts = 3
    retry_on = ["transient", "timeout"]
  }

  step "generate_preview" {
    action = "http.request"
    input {
      method = "POST"
      url    = "${var.app_url}/api/previews"
      json = {
        content_id = event.data.content_id
        title      = event.data.title
      }
    }
  }

  step "update_search" {
    action = "http.request"
    input {
      method = "PUT"
      url    = "${var.app_url}/api/search/${event.data.content_id}"
      json   = event.data
    }
  }

  step "deliver_webhook" {
    action     = "webhook.deliver"
    depends_on = ["generate_preview", "update_search"]
    if         = var.content_webhook_url != ""
    input {
      url    = var.content_webhook_url
      secret = var.webhook_secret
      event  = "content.published"
      payload = {
        content_id = event.data.content_id
        title      = event.data.title
        preview    = step.generate_preview.output.json
      }
    }
  }
}
