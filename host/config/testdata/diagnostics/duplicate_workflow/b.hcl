# The same name again, in another file.

workflow "report" {
  step "s" {
    action = "heady.clear_caches"
  }
}
