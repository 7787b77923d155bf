workflow "report" {
  step "s" {
    action = "heady.clear_caches"
  }
}
