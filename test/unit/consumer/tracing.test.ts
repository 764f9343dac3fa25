import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createLogger } from '../../../src/common/logger.ts';
import { createTracing, otlpProtocol } from '../../../src/consumer/tracing.ts';

/** An OTLP/HTTP endpoint that records each request's content type and answers `status`. */
async function endpoint(status: number): Promise<{ url: string; types: string[]; close(): Promise<void> }> {
  const types: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    types.push(String(req.headers['content-type']));
    req.resume().on('end', () => res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? '' : 'refused by the test'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, types, close: () => new Promise((r) => server.close(() => r())) };
}

test('OTLP protocol: http/protobuf by default (the specification\'s), http/json on request, the traces variable first; gRPC refused by name', () => {
  assert.equal(otlpProtocol({}), 'http/protobuf');
  assert.equal(otlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }), 'http/json');
  assert.equal(otlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }), 'http/protobuf');
  assert.throws(() => otlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), (e: Error & { code?: string }) => e.code === 'LT_CONFIG_INVALID' && /HTTP only.*4318/.test(e.message));
});

test('spans go out in the protocol asked for, and failed exports are logged, once a minute rather than per batch', async () => {
  for (const [protocol, contentType] of [
    [undefined, 'application/x-protobuf'],
    ['http/json', 'application/json'],
  ] as const) {
    const collector = await endpoint(400);
    const lines: string[] = [];
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: '20', ...(protocol ? { OTEL_EXPORTER_OTLP_PROTOCOL: protocol } : {}) };
    // The SDK reads its settings from process.env itself.
    const saved = { ...process.env };
    Object.assign(process.env, env);
    const tracing = await createTracing(process.env, { name: 'livetag-test', version: '0' }, createLogger('warn', {}, (l) => lines.push(l)));
    try {
      for (let i = 0; i < 3; i++) {
        tracing.startSpan(`span ${i}`).end();
        const before = collector.types.length;
        const deadline = Date.now() + 5_000;
        while (collector.types.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await tracing.stop();
      await collector.close();
      process.env = saved;
    }
    assert.ok(collector.types.length >= 3, `${collector.types.length} exports`);
    assert.ok(collector.types.every((t) => t.startsWith(contentType)), `${protocol ?? 'default'}: ${collector.types.join(', ')}`);
    const warnings = lines.map((l) => JSON.parse(l) as { msg: string; detail?: string });
    assert.equal(warnings.length, 1, `one line for ${collector.types.length} failed exports: ${lines.join('\n')}`);
    assert.match(warnings[0]!.msg, /tracing: span export/);
    assert.match(warnings[0]!.detail ?? '', /400|Bad Request|refused by the test/);
  }
});
