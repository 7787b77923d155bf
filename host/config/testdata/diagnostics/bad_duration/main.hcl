workflow "w" {
  timeout = "5x"

  trigger "schedule" {
    every = 30
  }

  retry {
    initial_delay = "1.5.2s"
    max_delay     = "10"
  }

  step "s" {
    action  = "heady.clear_caches"
    timeout = "1h30m"
  }
}

check "c" {
  type     = "store"
  interval = "-5s"
  timeout  = ""
}
