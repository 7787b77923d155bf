package metrics

import (
	"bytes"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// Registry holds Heady's own metrics in Prometheus form: API requests,
// events, scaling actions and evaluations, plus whatever the daemon adds
// with AddFunc and AddLabeledFunc (executions, plugin restarts, ...), and
// the Go runtime and process collectors.
type Registry struct {
	reg *prometheus.Registry

	requests     *prometheus.CounterVec
	reqDuration  *prometheus.HistogramVec
	events       prometheus.Counter
	scaleActions *prometheus.CounterVec
	scaleEvals   *prometheus.CounterVec
	replicas     *prometheus.GaugeVec
}

// NewRegistry returns a registry with Heady's metrics registered.
func NewRegistry() *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "heady_api_requests_total", Help: "API requests by method, route and status."}, []string{"method", "route", "status"})
	r.reqDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "heady_api_request_duration_seconds", Help: "API request latency by method and route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"method", "route"})
	r.events = prometheus.NewCounter(prometheus.CounterOpts{Name: "heady_events_total", Help: "Events accepted into the durable inbox."})
	r.scaleActions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "heady_scaling_actions_total", Help: "Scaling actions by policy and direction (up, down)."}, []string{"policy", "direction"})
	r.scaleEvals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "heady_scaling_evaluations_total", Help: "Scaling policy evaluations by policy and action (scale_up, scale_down, hold, error)."}, []string{"policy", "action"})
	r.replicas = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "heady_scaling_current", Help: "Current instance count reported by each scaling policy's backend."}, []string{"policy"})
	r.reg.MustRegister(r.requests, r.reqDuration, r.events, r.scaleActions, r.scaleEvals, r.replicas,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// ObserveRequest counts one API request.
func (r *Registry) ObserveRequest(method, route string, status int, d time.Duration) {
	r.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	r.reqDuration.WithLabelValues(method, route).Observe(d.Seconds())
}

// CountEvents counts accepted events.
func (r *Registry) CountEvents(n int) { r.events.Add(float64(n)) }

// ScalingEvaluated counts an evaluation and, for scale_up / scale_down
// actions that ran, a scaling action; current is the backend's count.
func (r *Registry) ScalingEvaluated(policy, action string, acted bool, current int) {
	r.scaleEvals.WithLabelValues(policy, action).Inc()
	if acted {
		dir := "up"
		if action == "scale_down" {
			dir = "down"
		}
		r.scaleActions.WithLabelValues(policy, dir).Inc()
	}
	if current >= 0 {
		r.replicas.WithLabelValues(policy).Set(float64(current))
	}
}

// AddFunc registers an unlabelled counter or gauge read from fn at scrape
// time.
func (r *Registry) AddFunc(name, help string, counter bool, fn func() float64) {
	if counter {
		r.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, fn))
		return
	}
	r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// AddLabeledFunc registers a metric with one label whose values fn returns
// at scrape time (label value → value).
func (r *Registry) AddLabeledFunc(name, help, label string, counter bool, fn func() map[string]float64) {
	vt := prometheus.GaugeValue
	if counter {
		vt = prometheus.CounterValue
	}
	r.reg.MustRegister(&funcCollector{desc: prometheus.NewDesc(name, help, []string{label}, nil), vt: vt, fn: fn})
}

type funcCollector struct {
	desc *prometheus.Desc
	vt   prometheus.ValueType
	fn   func() map[string]float64
}

func (f *funcCollector) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

func (f *funcCollector) Collect(ch chan<- prometheus.Metric) {
	for k, v := range f.fn() {
		ch <- prometheus.MustNewConstMetric(f.desc, f.vt, v, k)
	}
}

// Gatherer exposes the underlying registry (for promhttp or tests).
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Text renders every metric in the Prometheus text exposition format and
// returns it with its content type.
func (r *Registry) Text() ([]byte, string, error) {
	mfs, err := r.reg.Gather()
	if err != nil && len(mfs) == 0 {
		return nil, "", err
	}
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return nil, "", err
		}
	}
	return buf.Bytes(), string(format), nil
}
