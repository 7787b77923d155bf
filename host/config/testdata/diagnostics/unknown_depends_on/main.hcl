workflow "w" {
  step "fetch" {
    action = "http.request"
  }
  step "store" {
    action     = "heady.clear_caches"
    depends_on = ["fetsh"]
  }
  step "self" {
    action     = "heady.clear_caches"
    depends_on = ["self"]
  }
}
