workflow "fine_syntax" {
  timeout = "10 minutes"
  trigger "workflow" {
    workflow = "broken"
  }
  step "s" {
    action = "heady.clear_caches"
  }
}

# var.step_timeout may be declared in the file that failed to parse: not reported.
workflow "uses_var" {
  step "s" {
    action  = "heady.clear_caches"
    timeout = var.step_timeout
  }
}
