import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { createHttpServer, readRequestBody, type ExtraRoutes } from '../../../src/consumer/http-server.ts';

function get(port: number, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers ?? {}, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

function server(routes?: ExtraRoutes, limits = {}, errors: string[] = []) {
  const s = createHttpServer({
    host: '127.0.0.1',
    port: 0,
    registry: new Registry(),
    isReady: () => true,
    ...(routes ? { routes } : {}),
    limits,
    onError: (path, err) => errors.push(`${path}: ${(err as Error).message}`),
  });
  return s;
}

test('a route that throws answers 500, is reported once, and the server keeps serving', async () => {
  const errors: string[] = [];
  const s = server(async (_req, _res, path) => {
    if (path === '/boom') throw new Error('handler exploded');
    return false;
  }, {}, errors);
  await s.start();
  try {
    const boom = await get(s.port, '/boom');
    assert.equal(boom.status, 500);
    assert.equal(boom.body, 'internal error\n');
    assert.doesNotMatch(boom.body, /exploded/, 'the error text stays in the log, not in the response');
    assert.deepEqual(errors, ['/boom: handler exploded']);
    assert.equal((await get(s.port, '/healthz')).status, 200);
    assert.equal((await get(s.port, '/nope')).status, 404);
  } finally {
    await s.stop();
  }
});

test('requests in flight are capped for every route, added ones included; probes still answer', async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const s = server(async (_req, res, path) => {
    if (path !== '/slow') return false;
    await gate;
    res.end('done\n');
    return true;
  }, { maxInFlight: 2 });
  await s.start();
  try {
    const slow = [get(s.port, '/slow'), get(s.port, '/slow')];
    await new Promise((r) => setTimeout(r, 100));
    const third = await get(s.port, '/slow');
    assert.equal(third.status, 503);
    assert.equal((await get(s.port, '/metrics')).status, 503, 'built-in routes share the cap');
    assert.equal((await get(s.port, '/healthz')).status, 200, 'liveness is never refused for load');
    assert.equal((await get(s.port, '/readyz')).status, 200);
    release();
    assert.deepEqual((await Promise.all(slow)).map((r) => r.status), [200, 200]);
    assert.equal((await get(s.port, '/slow')).status, 200, 'the slots come back');
  } finally {
    await s.stop();
  }
});

test('a declared body over the cap is refused before the route runs; readRequestBody caps chunked bodies', async () => {
  let reached = 0;
  const s = server(async (req, res, path) => {
    if (path !== '/post') return false;
    reached++;
    try {
      const body = await readRequestBody(req, 64);
      res.end(`${body.length}\n`);
    } catch (err) {
      res.writeHead(413).end(`${(err as Error).message}\n`);
    }
    return true;
  }, { maxBodyBytes: 1024 });
  await s.start();
  try {
    const big = await get(s.port, '/post', { method: 'POST', headers: { 'content-length': '4096' }, body: 'x'.repeat(4096) }).catch(() => ({ status: 413, body: '' }));
    assert.equal(big.status, 413);
    assert.equal(reached, 0);
    const chunked = await get(s.port, '/post', { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body: 'y'.repeat(200) });
    assert.equal(chunked.status, 413);
    assert.match(chunked.body, /over 64 bytes/);
    assert.equal((await get(s.port, '/post', { method: 'POST', body: 'small' })).body, '5\n');
  } finally {
    await s.stop();
  }
});

test('open connections are capped: sockets past the cap are closed on accept', async () => {
  const s = server(undefined, { maxConnections: 2 });
  await s.start();
  const sockets: net.Socket[] = [];
  try {
    const open = () =>
      new Promise<net.Socket>((resolve) => {
        const c = net.connect(s.port, '127.0.0.1', () => resolve(c));
        c.on('error', () => {});
        sockets.push(c);
      });
    await open();
    await open();
    const third = await open();
    const closed = await new Promise<boolean>((resolve) => {
      third.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 2_000);
    });
    assert.ok(closed, 'the third connection was closed by the server');
  } finally {
    for (const c of sockets) c.destroy();
    await s.stop();
  }
});

test('it binds where configured, and a bad address is a clear configuration error', async () => {
  const s = server();
  await s.start();
  try {
    const other = createHttpServer({ host: '127.0.0.1', port: s.port, registry: new Registry(), isReady: () => true });
    await assert.rejects(other.start(), /cannot listen on 127\.0\.0\.1:\d+ \(LIVETAG_HTTP_HOST\/LIVETAG_HTTP_PORT\)/);
    // Bound to loopback only: the port is not open on another local address.
    const reachable = await new Promise<boolean>((resolve) => {
      const c = net.connect(s.port, '127.0.0.2', () => (c.destroy(), resolve(true)));
      c.on('error', () => resolve(false));
    });
    assert.equal(reachable, false);
  } finally {
    await s.stop();
  }
});
