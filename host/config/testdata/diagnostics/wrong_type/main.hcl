scaling "app" {
  dry_run = true
  min     = "two"
  max     = [4]

  metric "cpu" {
    scale_up   = "high"
    scale_down = 30
  }
}

workflow "w" {
  enabled = "yes"
  step "s" {
    action     = "heady.clear_caches"
    depends_on = "other"
  }
}
