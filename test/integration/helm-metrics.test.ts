/**
 * Every metric the Grafana dashboard and the PrometheusRule alerts query is one
 * the service really exports: the real service runs against the test broker
 * with a tiny random model, tags a few comments (and dead-letters a few), and
 * its /metrics names are compared with the names in every PromQL expression
 * (parsed by Prometheus' own parser in scripts/helm-tools). A synthetic query
 * on a misspelled or non-series metric must be reported too.
 *
 * Needs the chart tooling (scripts/ensure-helm.ts: helm and helm-tools, built
 * once from Go modules); without Go it skips, saying so.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../src/common/logger.ts';
import { loadServeConfig } from '../../src/consumer/config.ts';
import { createStreamService } from '../../src/consumer/stream-service.ts';
import { CHART_DIR, chartToolingOrSkip, helmTemplate, promqlMetrics, type PromqlResult } from '../../scripts/ensure-helm.ts';
import { testKafka } from './helpers/kafka.ts';
import { collector, serveEnv, serveTopics, tinyBundle } from './helpers/serve.ts';

type Doc = Record<string, any>;

const { tooling, skip } = await chartToolingOrSkip();

/** Metric names the service's metrics must cover; anything else a query uses must be listed here with a reason. */
const OWN_PREFIXES = /^(livetag|process|nodejs)_/;
const ALLOWED_FOREIGN: Record<string, string> = {};

/** Sample names in a Prometheus text exposition, histogram/summary series included. */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      const [, name, kind] = type;
      if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
      else if (kind === 'summary') for (const s of ['', '_sum', '_count']) names.add(name + s);
      else names.add(name);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample) names.add(sample[1]);
  }
  return names;
}

/** Grafana's interval variables become a duration the parser accepts; label variables sit inside quoted matchers. */
function fromGrafana(expr: string): string {
  return expr.replace(/\$\{?__(rate_interval|interval|range)\}?/g, '5m');
}

/** Every PromQL expression of a dashboard: panel targets (rows' nested panels too) and query variables' label_values() selectors. */
function dashboardExpressions(dashboard: Doc): string[] {
  const exprs: string[] = [];
  const walk = (panels: Doc[] = []): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) exprs.push(fromGrafana(t.expr));
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const m = /^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$/.exec(String(q ?? '').trim());
    if (m) exprs.push(fromGrafana(m[1]));
  }
  return exprs;
}

/** Problems with the metric names the parsed expressions use. */
function problems(results: readonly PromqlResult[], exported: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const r of results) {
    if (r.error) out.push(`does not parse (${r.error}): ${r.expr}`);
    for (const m of r.metrics) {
      if (OWN_PREFIXES.test(m) ? !exported.has(m) : !(m in ALLOWED_FOREIGN)) out.push(`${m} is not exported by livetag serve: ${r.expr}`);
    }
  }
  return out;
}

test('the dashboard and the alert rules query only metrics livetag serve exports', { skip: skip ?? false, timeout: 180_000 }, async (t) => {
  const tools = tooling!;
  // The real service, a few valid and invalid comments through it.
  const client = testKafka('helm-metrics');
  const topics = await serveTopics(t, client, 2);
  const svc = createStreamService(loadServeConfig({}, serveEnv(topics, await tinyBundle())), createLogger('error'));
  const out = await collector(client, [topics.output, topics.dlq]);
  let exposition: string;
  try {
    await svc.start();
    const producer = client.producer();
    await producer.connect();
    const messages = [
      ...['这个多少钱', 'M码还有吗', '什么时候发货', '包邮吗', '有优惠券吗', '质量怎么样'].map((text, i) => ({ key: `room-${i % 2}`, value: JSON.stringify({ text }) })),
      { key: 'room-0', value: '{"text": "unterminated' },
      { key: 'room-1', value: JSON.stringify({ text: '' }) },
    ];
    await producer.send({ topic: topics.input, messages, acks: -1 });
    await producer.disconnect();
    await out.until(messages.length, 60_000, 'tags and dead letters');
    const res = await fetch(`http://127.0.0.1:${svc.httpPort}/metrics`);
    assert.equal(res.status, 200);
    exposition = await res.text();
  } finally {
    await out.stop();
    await svc.stop();
  }
  const exported = exportedNames(exposition);
  for (const m of ['livetag_messages_classified_total', 'livetag_end_to_end_latency_seconds_bucket', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_p99_seconds']) {
    assert.ok(exported.has(m), `${m} missing from /metrics; the exposition parser is wrong`);
  }

  const dashboard = JSON.parse(fs.readFileSync(path.join(CHART_DIR, 'dashboards', 'livetag.json'), 'utf8')) as Doc;
  const dashboardExprs = dashboardExpressions(dashboard);
  const rule = (await helmTemplate(tools, { valuesFiles: ['ci/monitoring-values.yaml'] })).docs.find((d) => d.kind === 'PrometheusRule');
  assert.ok(rule, 'the monitoring variant renders a PrometheusRule');
  const ruleExprs = (rule.spec.groups as Doc[]).flatMap((g) => (g.rules as Doc[]).map((r) => String(r.expr)));
  assert.ok(dashboardExprs.length >= 25, `only ${dashboardExprs.length} dashboard expressions found`);
  assert.ok(ruleExprs.length >= 5);

  const results = await promqlMetrics(tools, [...dashboardExprs, ...ruleExprs]);
  assert.deepEqual(problems(results, exported), []);
  const used = new Set(results.flatMap((r) => r.metrics));
  t.diagnostic(`${dashboardExprs.length} dashboard and ${ruleExprs.length} alert expressions use ${used.size} metrics, all exported (of ${exported.size} names on /metrics)`);

  // The dashboard shows what the issue asks for.
  const text = dashboardExprs.join('\n');
  for (const [what, re] of [
    ['end-to-end latency p50/p99', /histogram_quantile\(0\.5, sum by \(le\) \(rate\(livetag_end_to_end_latency_seconds_bucket[\s\S]*histogram_quantile\(0\.99, sum by \(le\) \(rate\(livetag_end_to_end_latency_seconds_bucket/],
    ['inference time', /livetag_inference_seconds_bucket/],
    ['batch size', /livetag_batch_size_(bucket|sum)/],
    ['throughput', /rate\(livetag_messages_classified_total/],
    ['dead-letter rate by reason', /sum by \(reason\) \(rate\(livetag_messages_dead_lettered_total/],
    ['lag per partition', /max by \(topic, partition\) \(livetag_consumer_lag/],
    ['predictions per label', /sum by \(label\) \(rate\(livetag_predictions_total/],
    ['model version', /livetag_model_info/],
    ['reload failures', /livetag_model_reload_failures_total/],
  ] as const) {
    assert.match(text, re, `the dashboard has no ${what} query`);
  }
  const alerts = (rule.spec.groups as Doc[]).flatMap((g) => (g.rules as Doc[]).map((r) => `${r.alert}: ${r.expr}`)).join('\n');
  for (const re of [/LagGrowing: [\s\S]*livetag_consumer_lag/, /P99OverSLO: histogram_quantile\(0\.99[\s\S]*livetag_end_to_end_latency_seconds_bucket/, /DeadLetterRate: [\s\S]*livetag_messages_dead_lettered_total/, /ReloadFailed: [\s\S]*livetag_model_reload_failures_total/, /NoOutput: [\s\S]*livetag_messages_classified_total/]) {
    assert.match(alerts, re);
  }

  // The check itself catches a misspelled metric, a histogram's bare name (no such series),
  // a foreign metric and a query that does not parse.
  const synthetic = await promqlMetrics(tools, [
    'sum(rate(livetag_messages_consumd_total[5m]))',
    'histogram_quantile(0.99, sum by (le) (rate(livetag_inference_seconds[5m])))',
    'rate(http_requests_total[5m])',
    'sum(rate(livetag_messages_consumed_total[5m])',
    fromGrafana('sum(rate(livetag_messages_consumed_total{namespace="$namespace"}[$__rate_interval]))'),
  ]);
  const found = problems(synthetic, exported);
  assert.equal(found.length, 4, found.join('\n'));
  assert.match(found[0], /^livetag_messages_consumd_total is not exported/);
  assert.match(found[1], /^livetag_inference_seconds is not exported/);
  assert.match(found[2], /^http_requests_total is not exported/);
  assert.match(found[3], /^does not parse/);
});
