workflw "nightly" {
  step "run" {
    action = "heady.clear_caches"
  }
}

workflow "other" {
  stpe "run" {
    action = "heady.clear_caches"
  }
  step "ok" {
    action = "heady.clear_caches"
  }
}

health "disk" {
  type = "disk"
}
