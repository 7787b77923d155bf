check "api" {
  type   = "http"
  url    = "http://127.0.0.1:${var.prot}/health"
  intrval = "10s"
}

discovery "lan" {
  ports = [0, 80, 70000]
}

workflow "load_time" {
  timeout = event.data.timeout
  step "s" {
    action = "heady.clear_caches"
    timeout = "${local.x}s"
  }
}
