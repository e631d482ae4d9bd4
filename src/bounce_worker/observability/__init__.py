"""What operators watch: structured logs, Prometheus metrics, health checks."""
