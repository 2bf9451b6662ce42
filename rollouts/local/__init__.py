"""Local mode: an embedded Kubernetes-compatible API server and a local workload runner."""
