package httpapi

import "time"

// Metrics receives one observation per admin request. The route is the route
// template (for example "/v1/keys/{id}") or "unmatched"; method is one of the
// standard HTTP methods or "OTHER", so labels stay bounded whatever clients
// send. Implementations must be safe for concurrent use; prom.Metrics is the
// Prometheus one.
type Metrics interface {
	ObserveRequest(route, method string, status int, d time.Duration)
}

// NopMetrics discards observations. It is the default.
type NopMetrics struct{}

// ObserveRequest does nothing.
func (NopMetrics) ObserveRequest(string, string, int, time.Duration) {}
