// promql-eval: evaluates alerting rules with Prometheus' own PromQL engine
// over real scrapes, for test/integration/reliability/alerts.test.ts (built
// once into .cache/promql-eval by promql-engine.ts).
//
// Reads on stdin:
//
//	{"scrapes": [{"atMs": 0, "text": "<Prometheus text exposition>"}],
//	 "target": {"job": "livetag", ...},   // labels the scrape adds
//	 "rules": [{"name": "...", "expr": "...", "for": "10m"}],
//	 "fromMs": 0, "toMs": 0, "evalEveryMs": 60000}
//
// loads every sample into a TSDB (as a scrape would, target labels added),
// evaluates each rule at every step like the rule manager (an alert fires once
// its expression has returned something for `for` at every evaluation), and
// prints per rule its first result value at each step and when it fired.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

type scrape struct {
	AtMs int64  `json:"atMs"`
	Text string `json:"text"`
}

type rule struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
	For  string `json:"for"`
}

type input struct {
	Scrapes     []scrape          `json:"scrapes"`
	Target      map[string]string `json:"target"`
	Rules       []rule            `json:"rules"`
	FromMs      int64             `json:"fromMs"`
	ToMs        int64             `json:"toMs"`
	EvalEveryMs int64             `json:"evalEveryMs"`
}

type step struct {
	AtMs  int64    `json:"atMs"`
	Value *float64 `json:"value"`
	Error string   `json:"error,omitempty"`
}

type result struct {
	Name       string `json:"name"`
	Steps      []step `json:"steps"`
	FiringAtMs *int64 `json:"firingAtMs"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "promql-eval:", err)
		os.Exit(1)
	}
}

func run() error {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	dir, err := os.MkdirTemp("", "promql-eval-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	opts := tsdb.DefaultOptions()
	// Scrapes are replayed with their own (old) timestamps.
	opts.OutOfOrderTimeWindow = math.MaxInt64 / 2
	db, err := tsdb.Open(dir, nil, nil, opts, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := load(db, in); err != nil {
		return err
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	var out []result
	for _, r := range in.Rules {
		res, err := evaluate(engine, db, r, in)
		if err != nil {
			return err
		}
		out = append(out, res)
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func evaluate(engine *promql.Engine, db storage.Queryable, r rule, in input) (result, error) {
	res := result{Name: r.Name, Steps: []step{}}
	var hold time.Duration
	if r.For != "" {
		d, err := model.ParseDuration(r.For)
		if err != nil {
			return res, fmt.Errorf("%s: for %q: %w", r.Name, r.For, err)
		}
		hold = time.Duration(d)
	}
	activeSince := int64(-1)
	for at := in.FromMs; at <= in.ToMs; at += in.EvalEveryMs {
		s := step{AtMs: at}
		q, err := engine.NewInstantQuery(context.Background(), db, nil, r.Expr, time.UnixMilli(at))
		if err != nil {
			return res, fmt.Errorf("%s: %w", r.Name, err)
		}
		v := q.Exec(context.Background())
		q.Close()
		active := false
		if v.Err != nil {
			s.Error = v.Err.Error()
		} else if vec, err := v.Vector(); err != nil {
			s.Error = err.Error()
		} else if len(vec) > 0 {
			active = true
			f := vec[0].F
			s.Value = &f
		}
		res.Steps = append(res.Steps, s)
		if !active {
			activeSince = -1
			continue
		}
		if activeSince < 0 {
			activeSince = at
		}
		if res.FiringAtMs == nil && time.Duration(at-activeSince)*time.Millisecond >= hold {
			fired := at
			res.FiringAtMs = &fired
		}
	}
	return res, nil
}

func load(db *tsdb.DB, in input) error {
	for _, sc := range in.Scrapes {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(sc.Text))
		if err != nil {
			return fmt.Errorf("scrape at %d: %w", sc.AtMs, err)
		}
		app := db.Appender(context.Background())
		for name, mf := range families {
			for _, m := range mf.GetMetric() {
				for _, s := range samples(name, mf.GetType(), m) {
					lbls := map[string]string{}
					for k, v := range in.Target {
						lbls[k] = v
					}
					for _, lp := range m.GetLabel() {
						lbls[lp.GetName()] = lp.GetValue()
					}
					for k, v := range s.extra {
						lbls[k] = v
					}
					lbls["__name__"] = s.name
					if _, err := app.Append(0, labels.FromMap(lbls), sc.AtMs, s.value); err != nil {
						return fmt.Errorf("%s at %d: %w", s.name, sc.AtMs, err)
					}
				}
			}
		}
		if err := app.Commit(); err != nil {
			return err
		}
	}
	return nil
}

type flat struct {
	name  string
	extra map[string]string
	value float64
}

// samples flattens one metric into the series a scrape stores (classic
// histograms and summaries as _bucket/_sum/_count and quantiles).
func samples(name string, kind dto.MetricType, m *dto.Metric) []flat {
	switch kind {
	case dto.MetricType_COUNTER:
		return []flat{{name: name, value: m.GetCounter().GetValue()}}
	case dto.MetricType_GAUGE:
		return []flat{{name: name, value: m.GetGauge().GetValue()}}
	case dto.MetricType_HISTOGRAM:
		h := m.GetHistogram()
		out := []flat{{name: name + "_sum", value: h.GetSampleSum()}, {name: name + "_count", value: float64(h.GetSampleCount())}}
		for _, b := range h.GetBucket() {
			out = append(out, flat{name: name + "_bucket", extra: map[string]string{"le": formatLe(b.GetUpperBound())}, value: float64(b.GetCumulativeCount())})
		}
		return append(out, flat{name: name + "_bucket", extra: map[string]string{"le": "+Inf"}, value: float64(h.GetSampleCount())})
	case dto.MetricType_SUMMARY:
		s := m.GetSummary()
		out := []flat{{name: name + "_sum", value: s.GetSampleSum()}, {name: name + "_count", value: float64(s.GetSampleCount())}}
		for _, q := range s.GetQuantile() {
			out = append(out, flat{name: name, extra: map[string]string{"quantile": fmt.Sprint(q.GetQuantile())}, value: q.GetValue()})
		}
		return out
	default:
		return []flat{{name: name, value: m.GetUntyped().GetValue()}}
	}
}

func formatLe(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return fmt.Sprint(f)
}
