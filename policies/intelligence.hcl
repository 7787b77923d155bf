# The intelligence engine learns from the audit trail and workflow history:
# repeated action sequences become workflow suggestions, failures become
# reliability suggestions, CPU and memory are forecast. Override a value with
#   heady run -var intelligence_interval=10m

variable "intelligence_interval" {
  description = "How often the learning runs (it also runs shortly after start and on POST /intelligence/analyze)."
  default     = "1h"
}

variable "intelligence_session_gap" {
  description = "Idle time that ends an actor's session when mining repeated action sequences."
  default     = "30m"
}

variable "intelligence_min_sessions" {
  description = "Distinct sessions a sequence must occur in before it is suggested as a workflow."
  default     = 3
}

variable "intelligence_min_days" {
  description = "Distinct days a sequence must occur on before it is suggested as a workflow."
  default     = 2
}
