workflow "w" {
  trigger "event" {
    type      = "order.["
    condition = step.a.output.ok
  }
  step "a" {
    action = "http.request"
    input {
      url = var.missing_url
    }
  }
  step "b" {
    action = "http.request"
    if     = step.a.output.ok
    input {
      value = each.value
      id    = step.c.output.id
      self  = step.b.output
      x     = evnt.data.id
      err   = error.message
    }
  }
}
