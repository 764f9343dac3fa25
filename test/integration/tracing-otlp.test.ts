import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { GoMissingError, ensureOtelcol } from '../../scripts/ensure-otelcol.ts';
import { createLogger } from '../../src/common/logger.ts';
import { loadServeConfig } from '../../src/consumer/config.ts';
import { createStreamService } from '../../src/consumer/stream-service.ts';
import { tempDir } from '../helpers/shared.ts';
import { testKafka, waitUntil } from './helpers/kafka.ts';
import { collector, serveEnv, serveTopics, tinyBundle } from './helpers/serve.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

interface ExportedSpan {
  traceId: string;
  parentId: string;
  id: string;
  name: string;
}

/** Spans as the collector's debug exporter (verbosity: detailed) prints them. */
function spansIn(log: string): ExportedSpan[] {
  return log
    .split(/Span #\d+/)
    .slice(1)
    .map((chunk) => {
      const field = (name: string) => new RegExp(`^\\s*${name}\\s*: ?(.*)$`, 'm').exec(chunk)?.[1].trim() ?? '';
      return { traceId: field('Trace ID'), parentId: field('Parent ID'), id: field('ID'), name: field('Name') };
    });
}

test('spans reach a real OpenTelemetry Collector over OTLP; the trace goes on from input record to output record and from HTTP request to response', { timeout: 900_000 }, async (t) => {
  let bin: string;
  try {
    bin = await ensureOtelcol((m) => t.diagnostic(m));
  } catch (err) {
    if (err instanceof GoMissingError) return t.skip(`no Go toolchain to build the collector: ${err.message}`);
    throw err;
  }
  // The collector cannot report a port it picked, so one is probed here; another process may take it first: then a new one.
  let port = 0;
  let log = '';
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    const config = join(tempDir('livetag-otelcol-'), 'config.yaml');
    writeFileSync(config, ['receivers:', '  otlp:', '    protocols:', '      http:', `        endpoint: 127.0.0.1:${port}`, 'exporters:', '  debug:', '    verbosity: detailed', 'service:', '  telemetry:', '    metrics:', '      level: none', '  pipelines:', '    traces:', '      receivers: [otlp]', '      exporters: [debug]', ''].join('\n'));
    const otelcol = spawn(bin, ['--config', `file:${config}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let exited = false;
    log = '';
    otelcol.stdout.on('data', (b: Buffer) => (log += b.toString('utf8')));
    otelcol.stderr.on('data', (b: Buffer) => (log += b.toString('utf8')));
    otelcol.on('exit', () => (exited = true));
    t.after(() => void otelcol.kill('SIGTERM'));
    await waitUntil(() => exited || /Everything is ready/.test(log), 30_000, 'collector ready');
    if (!exited) break;
    if (attempt === 3 || !/address already in use/.test(log)) assert.fail(`the collector exited at start:\n${log}`);
    t.diagnostic(`port ${port} was taken before the collector bound it; trying another`);
  }

  const client = testKafka('tracing');
  const topics = await serveTopics(t, client, 1);
  const saved = { ...process.env };
  Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'livetag-test' });
  const svc = createStreamService(loadServeConfig({}, serveEnv(topics, await tinyBundle())), createLogger('error'));
  const out = await collector(client, [topics.output]);
  const producer = client.producer();
  await producer.connect();
  let responseTraceparent: string | null = null;
  try {
    await svc.start();
    const messages = Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: JSON.stringify({ text: `包邮吗${i}`, id: `t${i}` }), headers: { traceparent: `00-${TRACE}-${PARENT}-01` } }));
    await producer.send({ topic: topics.input, messages: [...messages, { key: 'k', value: JSON.stringify({ text: 'untraced', id: 'u' }) }], acks: -1 });
    await out.until(6, 60_000, 'six outputs');
    await waitUntil(() => svc.ready, 30_000, 'ready');
    const res = await fetch(`http://127.0.0.1:${svc.httpPort}/v1/classify`, { method: 'POST', body: JSON.stringify({ texts: ['有优惠券吗'] }), headers: { traceparent: `00-${TRACE}-${PARENT}-01` } });
    assert.equal(res.status, 200);
    responseTraceparent = res.headers.get('traceparent');
  } finally {
    await producer.disconnect();
    await svc.stop(); // flushes the span processor
    await out.stop();
    process.env = saved;
  }

  // Output records carry the trace on: same trace, a span of livetag's as parent.
  const traced = out.received.filter((r) => r.headers.traceparent);
  assert.equal(traced.length, 5, 'the five traced records, not the untraced one');
  for (const r of traced) {
    const [, trace, span] = r.headers.traceparent.split('-');
    assert.equal(trace, TRACE);
    assert.notEqual(span, PARENT);
  }
  assert.match(responseTraceparent ?? '', new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));

  await waitUntil(() => ['livetag.batch', 'livetag.inference', 'livetag.publish', 'POST /v1/classify'].every((n) => spansIn(log).some((s) => s.name === n)), 30_000, 'spans exported');
  const spans = spansIn(log);
  const processSpans = spans.filter((s) => s.name === 'livetag.process');
  assert.equal(processSpans.length, 5);
  for (const s of processSpans) assert.ok(s.traceId === TRACE && s.parentId === PARENT, JSON.stringify(s));
  const outSpanIds = new Set(traced.map((r) => r.headers.traceparent.split('-')[2]));
  assert.deepEqual(new Set(processSpans.map((s) => s.id)), outSpanIds, 'each output carries its livetag.process span');
  const http = spans.find((s) => s.name === 'POST /v1/classify')!;
  assert.equal(http.traceId, TRACE);
  assert.equal(http.parentId, PARENT);
  assert.match(log, /service\.name: Str\(livetag-test\)/);
  t.diagnostic(`${spans.length} spans exported: ${[...new Set(spans.map((s) => s.name))].join(', ')}`);
});
