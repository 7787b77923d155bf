host {}

variable "x" {
  default = 1
}

check "c" {
  type = "store"
}

webhook "hook" {}

workflow "w" {
  step "s" {
    action = "heady.clear_caches"
  }
  on_failure "s" {
    action = "notify.send"
  }
}
