host {
  log_level  = "verbose"
  log_format = "xml"
}

auth {
  anonymous_reads = "sometimes"
}

workflow "w" {
  trigger "schedule" {
    cron     = "@hourly"
    catch_up = "al"
  }
  trigger "timer" {
  }
  concurrency {
    overflow = "drop"
  }
  retry {
    retry_on = ["transiant", "code:E_BUSY"]
  }
  step "s" {
    action = "heady.clear_caches"
  }
}

check "c" {
  type = "dsk"
}

service "svc" {
  command = ["./svc"]
  restart = "sometimes"
}

alert "ops" {
  kind = "pager"
}
