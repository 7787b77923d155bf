scaling "app" {
  min = 5
  max = 2

  metric "cpu" {
    scale_up   = 150
    scale_down = 30
  }
  metric "requests_per_min" {
    scale_up   = 100
    scale_down = 1000
  }
  metric "memory" {
    scale_up = 75
  }
}

check "mem" {
  type      = "memory"
  threshold = -1
  url       = "http://127.0.0.1/"
}

workflow "w" {
  retry {
    attempts      = 1.5
    initial_delay = "1m"
    max_delay     = "1s"
    multiplier    = 0.5
  }
  concurrency {
    limit = -1
  }
  step "s" {
    action               = "heady.clear_caches"
    for_each_concurrency = 0
  }
}

plugin "custom" {
  sha256 = "ABC"
}
