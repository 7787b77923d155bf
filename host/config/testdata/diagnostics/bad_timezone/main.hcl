workflow "w" {
  trigger "schedule" {
    cron     = "0 2 * * *"
    timezone = "Mars/Olympus_Mons"
  }
  step "s" {
    action = "heady.clear_caches"
  }
}

scaling "app" {
  dry_run = true
  metric "cpu" {
    scale_up   = 70
    scale_down = 30
  }
  active_hours {
    from     = "8:00"
    to       = "18:00"
    timezone = "Europe/Nowhere"
    days     = ["mon", "tues"]
  }
}
