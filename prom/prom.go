// Package prom is the Prometheus adapter for keyward's metrics interfaces.
//
// Metrics live in their own registry, never the global one, so that tests
// and embedders get exactly what keyward registers and two servers in one
// process do not collide. Labels are bounded by construction: routes are
// route templates ("/v1/keys/{id}"), statuses are classes ("2xx"), so no
// client can mint new series by choosing paths or IDs.
package prom

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics collects keyward's metrics. It implements httpapi.Metrics.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New returns Metrics with its own registry, holding the admin API metrics:
//
//	keyward_admin_requests_total{route,method,status}      status is "2xx", "4xx", ...
//	keyward_admin_request_duration_seconds{route,method}
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "keyward", Subsystem: "admin", Name: "requests_total",
			Help: "Admin API requests by route template, method and status class.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "keyward", Subsystem: "admin", Name: "request_duration_seconds",
			Help:    "Admin API request latency by route template and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
	}
	m.reg.MustRegister(m.requests, m.duration)
	return m
}

// ObserveRequest records one admin request. route must be a route template
// and method a bounded method label, as httpapi passes them.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, statusClass(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the registry behind Handler, for further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// statusClass maps a status to "1xx".."5xx", anything else to "other".
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}
