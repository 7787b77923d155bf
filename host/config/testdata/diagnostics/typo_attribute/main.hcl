workflow "nightly" {
  descripton = "typo in a workflow attribute"

  trigger "schedule" {
    crn = "0 2 * * *"
  }

  step "run" {
    actoin = "heady.clear_caches"
  }
}
