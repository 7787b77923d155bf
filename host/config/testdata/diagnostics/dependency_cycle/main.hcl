workflow "w" {
  step "a" {
    action     = "heady.clear_caches"
    depends_on = ["c"]
  }
  step "b" {
    action     = "heady.clear_caches"
    depends_on = ["a"]
  }
  step "c" {
    action     = "heady.clear_caches"
    depends_on = ["b"]
  }
  step "d" {
    action = "heady.clear_caches"
  }
}

service "api" {
  command    = ["./api"]
  depends_on = ["db"]
}

service "db" {
  command    = ["./db"]
  depends_on = ["api"]
}
