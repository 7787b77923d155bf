# Service discovery. Each source scans on its interval (and on
# POST /api/v1/automation/discovery/scan), registers what it finds
# (GET /api/v1/automation/discovery/services), gives each service a health
# check (its health endpoint, else a TCP connect) and emits
# service.discovered / service.lost events that workflows can trigger on.

# HTTP APIs on the common development ports of this machine. targets may
# also hold CIDRs (at most /22 each).
discovery "http" {
  protocol = "http"
  targets  = ["127.0.0.1"]
  ports    = [3000, 3001, 8000, 8080, 5000]
  interval = "5m"
}

# Model Context Protocol servers: add their URLs to targets (Streamable
# HTTP or HTTP+SSE are detected), or name a stdio server with command.
discovery "mcp" {
  protocol = "mcp"
  targets  = []
  interval = "5m"
}

# Nodes already known to the registry, and the services they declare.
discovery "local" {
  protocol = "local"
  interval = "5m"
}

# DNS-SD over multicast DNS: uncomment to browse the link and to announce
# this host as _heady._tcp so other tools and other Heady nodes find it.
# Not on by default because it sends multicast on every network interface.
#
# discovery "mdns" {
#   protocol = "mdns"
#   targets  = []   # service types such as "_http._tcp"; empty browses all
#   interval = "5m"
#   timeout  = "3s"
#   announce = true
# }
