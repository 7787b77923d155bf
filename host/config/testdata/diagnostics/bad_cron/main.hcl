workflow "minute_out_of_range" {
  trigger "schedule" {
    cron = "61 * * * *"
  }
  step "s" {
    action = "heady.clear_caches"
  }
}

workflow "too_few_fields" {
  trigger "schedule" {
    cron = "* * *"
  }
  step "s" {
    action = "heady.clear_caches"
  }
}

workflow "bad_descriptor" {
  trigger "schedule" {
    cron = "@fortnightly"
  }
  step "s" {
    action = "heady.clear_caches"
  }
}

workflow "both" {
  trigger "schedule" {
    cron  = "@daily"
    every = "1h"
  }
  trigger "schedule" {
  }
  step "s" {
    action = "heady.clear_caches"
  }
}
