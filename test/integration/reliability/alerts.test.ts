/**
 * The alert rules the Helm chart ships (PrometheusRule, rendered with the
 * chart's defaults) evaluated by Prometheus' own PromQL engine (promql-eval/)
 * against the real /metrics of a real service:
 * - stalled: its consumer crashed for good (another member holds the group
 *   with a protocol kafkajs does not share) while input keeps arriving —
 *   LivetagLagGrowing, LivetagNoOutput and LivetagDown must fire;
 * - healthy: the same input, tagged as it arrives — none of the three fires.
 *
 * Time is compressed: one real scrape every ~second is stored as one scrape a
 * minute (the common scrape interval), so the rules' 10m/15m windows and `for`
 * durations see a stall of about forty minutes. The values are the real
 * samples; only their timestamps are spaced out.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { GoMissingError, ensureChartTooling, helmTemplate } from '../../../scripts/ensure-helm.ts';
import { testKafka } from '../helpers/kafka.ts';
import { serveEnv, serveTopics, tinyBundle } from '../helpers/serve.ts';
import { bounded, eventually, httpGet, inProcessService, squatGroup } from './helpers.ts';
import { ensurePromqlEval, evaluateRules, type AlertRule, type RuleOutcome, type Scrape } from './promql-engine.ts';

let skip: string | false = process.env.LIVETAG_TEST_NO_LOCAL_BROKER === '1' && 'LIVETAG_TEST_NO_LOCAL_BROKER=1';
let rules: AlertRule[] = [];
let engine = '';
try {
  const tooling = await ensureChartTooling();
  const { docs } = await helmTemplate(tooling, { set: ['metrics.prometheusRule.enabled=true'] });
  const rule = docs.find((d) => d.kind === 'PrometheusRule');
  rules = (rule?.spec.groups as Array<{ rules: Array<{ alert: string; expr: string; for?: string }> }>).flatMap((g) => g.rules.map((r) => ({ name: r.alert, expr: r.expr, ...(r.for ? { for: r.for } : {}) })));
  engine = await ensurePromqlEval((m) => process.stderr.write(`[alerts] ${m}\n`));
} catch (err) {
  if (!(err instanceof GoMissingError)) throw err;
  skip = `${err.message} (helm renders the rules; Prometheus' engine is built from Go modules)`;
}

/** What `helm template --namespace livetag` and a ServiceMonitor give every series: the rules select on namespace and job. */
const TARGET = { namespace: 'livetag', job: 'livetag', pod: 'livetag-0', instance: '10.0.0.7:8080' };
const SCRAPES = 40;
const PER_SCRAPE = 400;
const MINUTE = 60_000;
const WATCHED = ['LivetagLagGrowing', 'LivetagNoOutput', 'LivetagDown'];

async function scrapeWhileProducing(t: TestContext, port: number, produce: () => Promise<unknown>): Promise<Scrape[]> {
  const scrapes: Scrape[] = [];
  const start = Date.UTC(2026, 0, 1);
  for (let i = 0; i < SCRAPES; i++) {
    await produce();
    await new Promise((r) => setTimeout(r, 700));
    scrapes.push({ atMs: start + i * MINUTE, text: (await httpGet(port, '/metrics')).body });
  }
  t.diagnostic(`${SCRAPES} real scrapes, stored one minute apart`);
  return scrapes;
}

function summary(outcomes: RuleOutcome[], fromMs: number): string {
  return outcomes
    .map((o) => {
      const last = o.steps.at(-1);
      const fired = o.firingAtMs === null ? 'never fired' : `fired at minute ${(o.firingAtMs - fromMs) / MINUTE}`;
      return `${o.name}: ${fired}; last value ${last?.value ?? 'none'}${last?.error ? ` (error ${last.error})` : ''}`;
    })
    .join('\n');
}

async function evaluate(scrapes: Scrape[]): Promise<Map<string, RuleOutcome>> {
  const outcomes = await evaluateRules(engine, { scrapes, target: TARGET, rules, fromMs: scrapes[0]!.atMs, toMs: scrapes.at(-1)!.atMs, evalEveryMs: MINUTE });
  for (const o of outcomes) assert.ok(o.steps.every((s) => !s.error), `${o.name} evaluates without errors: ${JSON.stringify(o.steps.find((s) => s.error))}`);
  return new Map(outcomes.map((o) => [o.name, o]));
}

async function producerFor(t: TestContext, kafka: ReturnType<typeof testKafka>, topic: string) {
  const producer = kafka.producer();
  await producer.connect();
  t.after(() => bounded(producer.disconnect(), 20_000, () => "the producer's disconnect"));
  let n = 0;
  return () => producer.send({ topic, messages: Array.from({ length: PER_SCRAPE }, () => ({ key: `room-${n % 8}`, value: JSON.stringify({ text: `how much is item ${n++}` }) })) });
}

describe('shipped alert rules on the real /metrics of a service', { skip }, () => {
  test('the chart ships the alerts under test', () => {
    for (const name of WATCHED) assert.ok(rules.some((r) => r.name === name), `${name} in the PrometheusRule`);
  });

  test('stalled (consumer crashed for good, input arriving): LivetagLagGrowing, LivetagNoOutput and LivetagDown fire', { timeout: 240_000 }, async (t) => {
    const kafka = testKafka('alerts-stall');
    const topics = await serveTopics(t, kafka, 2);
    await squatGroup(t, kafka, topics.group, topics.input);
    const produce = await producerFor(t, kafka, topics.input);
    const svc = inProcessService(t, { ...serveEnv(topics, await tinyBundle()), LIVETAG_HEALTH_INTERVAL_MS: '300' });
    await svc.start().catch((err: unknown) => t.diagnostic(`start: ${(err as Error).message}`));
    await eventually(async () => (await httpGet(svc.httpPort, '/healthz')).status === 503, 60_000, 'the consumer crashed for good');

    const scrapes = await scrapeWhileProducing(t, svc.httpPort, produce);
    const outcomes = await evaluate(scrapes);
    t.diagnostic(summary([...outcomes.values()], scrapes[0]!.atMs));
    for (const name of WATCHED) assert.notEqual(outcomes.get(name)!.firingAtMs, null, `${name} fires on a stalled service`);
    const lag = outcomes.get('LivetagLagGrowing')!.steps.at(-1)!.value!;
    assert.ok(lag >= SCRAPES * PER_SCRAPE * 0.9, `the alert's lag value (${lag}) is the input waiting`);
  });

  test('healthy (the same input, tagged as it arrives): none of them fires', { timeout: 240_000 }, async (t) => {
    const kafka = testKafka('alerts-healthy');
    const topics = await serveTopics(t, kafka, 2);
    const produce = await producerFor(t, kafka, topics.input);
    const svc = inProcessService(t, { ...serveEnv(topics, await tinyBundle()), LIVETAG_HEALTH_INTERVAL_MS: '300' });
    await svc.start();
    await eventually(async () => (await httpGet(svc.httpPort, '/readyz')).status === 200, 60_000, 'ready');

    const scrapes = await scrapeWhileProducing(t, svc.httpPort, produce);
    const outcomes = await evaluate(scrapes);
    t.diagnostic(summary([...outcomes.values()], scrapes[0]!.atMs));
    for (const name of WATCHED) assert.equal(outcomes.get(name)!.firingAtMs, null, `${name} stays silent on a healthy service`);
  });
});
