workflow "w" {
  trigger "workflow" {
    workflow = "bakup"
  }
  trigger "workflow" {
    workflow = "w"
  }
  trigger "webhook" {
    webhook = "gitlab"
  }
  step "s" {
    action = "heady.clear_caches"
  }
}

workflow "backup" {
  step "s" {
    action = "store.backup"
  }
}

webhook "github" {}

check "app" {
  type    = "process"
  service = "ap"
}

check "disk" {
  type = "disk"
  heal "run_workflow" {
    workflow = "optimize"
  }
  heal "reboot" {}
}

service "app" {
  command = ["./app"]
}
