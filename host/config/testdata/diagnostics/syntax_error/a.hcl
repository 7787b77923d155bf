workflow "broken" {
  step "s" {
    action = "heady.clear_caches"
  
}
