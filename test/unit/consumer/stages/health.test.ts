import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { createServeMetrics } from '../../../../src/consumer/metrics.ts';
import { serverLimitsFor } from '../../../../src/consumer/http-inference.ts';
import { readRequestBody } from '../../../../src/consumer/http-server.ts';
import { createHealth } from '../../../../src/consumer/stages/health.ts';

function post(port: number, bytes: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/echo', method: 'POST', headers: { 'content-length': bytes } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(Buffer.alloc(bytes, 0x61));
  });
}

test('the server lets bodies up to LIVETAG_HTTP_MAX_BODY_BYTES through to the inference routes, not only its 1 MiB default', async () => {
  const routes = async (req: Parameters<typeof readRequestBody>[0], res: import('node:http').ServerResponse, path: string) => {
    if (path !== '/echo') return false;
    const body = await readRequestBody(req, 4 << 20);
    res.end(String(body.length));
    return true;
  };
  const sizes = 1_500_000;
  for (const [maxBodyBytes, expected] of [[undefined, 413], [4 << 20, 200]] as const) {
    const limits = maxBodyBytes ? serverLimitsFor({ maxBodyBytes, maxConcurrent: 64, requestTimeoutMs: 10_000 }) : undefined;
    const health = createHealth({ host: '127.0.0.1', port: 0, metrics: createServeMetrics(), isReady: () => true, isLive: () => true, routes, ...(limits ? { limits } : {}) });
    await health.start();
    try {
      const r = await post(health.port, sizes);
      assert.equal(r.status, expected, `limit ${maxBodyBytes ?? 'default'}: ${r.body}`);
      if (expected === 200) assert.equal(r.body, String(sizes));
    } finally {
      await health.stop();
    }
  }
});
