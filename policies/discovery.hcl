# Service discovery. Each protocol scans every `interval` and registers what
# it finds in the registry (GET /api/v1/automation/discovery/services).

# HTTP APIs on the common development ports of this machine.
discovery "http" {
  protocol = "http"
  targets  = ["127.0.0.1"]
  ports    = [3000, 3001, 8000, 8080, 5000]
  interval = "5m"
}

# Model Context Protocol servers. Add their URLs to targets.
discovery "mcp" {
  protocol = "mcp"
  targets  = []
  interval = "5m"
}

# Nodes already known to the local registry: refresh their health.
discovery "local" {
  protocol = "local"
  interval = "5m"
}
