package prom

import "github.com/prometheus/client_golang/prometheus"

// ClusterState is what a node of a cluster reports of its place in it.
type ClusterState struct {
	FeedListening bool  // the change feed's connection is up
	FeedResyncs   int64 // full reloads after the feed's connection was lost
	Leader        bool  // this node runs the background work
	LeaderTerms   int64 // times this node became leader
}

// RegisterCluster registers a cluster node's metrics, read from state at
// each scrape.
func (m *Metrics) RegisterCluster(state func() ClusterState) {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	opts := func(name, help string) prometheus.GaugeOpts {
		return prometheus.GaugeOpts{Namespace: "keyward", Subsystem: "cluster", Name: name, Help: help}
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(opts("feed_listening", "1 while the change feed (PostgreSQL LISTEN) is connected."),
			func() float64 { return b(state().FeedListening) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts(opts("feed_resyncs_total", "Full reloads after the change feed's connection was lost and came back.")),
			func() float64 { return float64(state().FeedResyncs) }),
		prometheus.NewGaugeFunc(opts("leader", "1 while this node runs the scheduler, dispatcher and checkpointer."),
			func() float64 { return b(state().Leader) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts(opts("leader_terms_total", "Times this node became the leader.")),
			func() float64 { return float64(state().LeaderTerms) }),
	)
}
