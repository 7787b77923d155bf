variable "url" {
  default = "http://127.0.0.1:8090"
}

workflow "w" {
  trigger "event" {
    type      = "order.*"
    condition = event.data.total > 100
  }
  trigger "webhook" {
    webhook = "github"
  }
  step "a" {
    action = "http.request"
    input {
      url = "${var.url}/orders/${event.data.id}"
    }
  }
  step "b" {
    action     = "notify.send"
    depends_on = ["a"]
    for_each   = step.a.output.json.items
    input {
      message = "${each.value.name}: ${upper(step.a.output.status)}"
      list    = [for x in event.data.lines : x.sku]
    }
  }
  on_failure "alert" {
    action = "notify.send"
    input {
      message = "failed at ${error.step}: ${step.a.output.status}"
    }
  }
}

webhook "github" {
  secret = env("GITHUB_SECRET", "dev-secret")
}
