variable "port" {
  default = 8080
}

host {
  listen  = "localhost"
  workers = 0
}

workflow "w" {
  timeout = "forever"
  step "s" {
    action = "clear_caches"
    retry {
      attempts = 0
      jitter   = 2
    }
  }
}
