host {}

variable "x" {
  default = 2
}

check "c" {
  type = "store"
}

webhook "hook" {}
