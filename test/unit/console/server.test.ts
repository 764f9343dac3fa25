import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test, type TestContext } from 'node:test';
import { createConsoleAggregator } from '../../../src/console/aggregator.ts';
import { CONTENT_SECURITY_POLICY, MAX_STREAMS, createConsoleServer } from '../../../src/console/server.ts';

async function started(t: TestContext, token?: string) {
  const aggregator = createConsoleAggregator();
  const server = createConsoleServer({ host: '127.0.0.1', port: 0, aggregator, isReady: () => true, ...(token ? { token } : {}) });
  await server.start();
  t.after(() => server.stop());
  return { server, aggregator, base: `http://127.0.0.1:${server.port}` };
}

function raw(port: number, opts: { method?: string; path?: string; host?: string; cookie?: string }): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers = { ...(opts.host ? { host: opts.host } : {}), ...(opts.cookie ? { cookie: opts.cookie } : {}) };
    const req = request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('serves the page and its two files with a strict CSP and no caching', async (t) => {
  const { base } = await started(t);
  for (const [path, type] of [
    ['/', 'text/html'],
    ['/app.js', 'text/javascript'],
    ['/app.css', 'text/css'],
  ]) {
    const res = await fetch(base + path);
    assert.equal(res.status, 200, path);
    assert.ok(res.headers.get('content-type')?.startsWith(type), path);
    assert.equal(res.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.ok((await res.text()).length > 100);
  }
  assert.match(CONTENT_SECURITY_POLICY, /default-src 'none'/);
  assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval/);
  const page = await (await fetch(base + '/')).text();
  assert.doesNotMatch(page, /<script>|\sstyle=|\son\w+=/, 'no inline script, style or handler the CSP would have to allow');
  assert.equal((await fetch(base + '/nope')).status, 404);
});

test('is read-only and refuses foreign Host headers on loopback', async (t) => {
  const { server } = await started(t);
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    const res = await raw(server.port, { method });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.allow, 'GET, HEAD');
  }
  assert.equal((await raw(server.port, { host: 'evil.example:80' })).status, 421, 'DNS rebinding');
  assert.equal((await raw(server.port, { host: `localhost:${server.port}` })).status, 200);
  assert.equal((await raw(server.port, { host: `127.0.0.2:${server.port}` })).status, 200, 'any 127/8 address');
  assert.equal((await raw(server.port, { host: `127.attacker.example:${server.port}` })).status, 421, 'a name that starts like one is not loopback');
});

test('a request target that is no URL ("//", an <img> on any page can send it) gets 400, and the console stays up', async (t) => {
  const { server } = await started(t);
  for (const path of ['//', '/\\', '//@', '//[']) assert.equal((await raw(server.port, { path })).status, 400, path);
  assert.equal((await raw(server.port, { path: '/api/snapshot' })).status, 200);
});

test('with a token, a malformed console cookie (another app on this host may set one) is no token, not a crash', async (t) => {
  const { server } = await started(t, 's3cret-token');
  assert.equal((await raw(server.port, { path: '/api/snapshot', cookie: 'livetag_console=%E0%A4%A' })).status, 401);
  assert.equal((await raw(server.port, { path: '/healthz' })).status, 200);
});

test('with a token: 401 without it; bearer, or ?token= once then the cookie', async (t) => {
  const { base } = await started(t, 's3cret-token');
  const denied = await fetch(base + '/api/snapshot');
  assert.equal(denied.status, 401);
  assert.match(denied.headers.get('www-authenticate') ?? '', /^Bearer/);
  assert.equal((await fetch(base + '/api/snapshot', { headers: { authorization: 'Bearer wrong-token!' } })).status, 401);
  assert.equal((await fetch(base + '/api/snapshot', { headers: { authorization: 'Bearer s3cret-token' } })).status, 200);
  assert.equal((await fetch(base + '/?token=nope')).status, 401);
  const login = await fetch(base + '/?token=s3cret-token', { redirect: 'manual' });
  assert.equal(login.status, 303);
  assert.equal(login.headers.get('location'), '/', 'the token leaves the address bar');
  const cookie = login.headers.get('set-cookie') ?? '';
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.equal((await fetch(base + '/events', { headers: { cookie: cookie.split(';')[0] } }).then(async (r) => (await r.body?.cancel(), r.status))), 200);
  assert.equal((await fetch(base + '/healthz')).status, 200, 'health stays open for probes');
});

test('pushes snapshots of the requested view over Server-Sent Events', async (t) => {
  const { base, aggregator } = await started(t);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const res = await fetch(`${base}/events?tag=price`, { signal: ac.signal });
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = res.body!.getReader();
  const now = Date.now();
  aggregator.add({ id: 1, text: '<img src=x onerror=alert(1)>多少钱', tags: [{ label: 'price', score: 0.9 }], model: { id: 'm', version: '1' }, source: { topic: 't', partition: 0, offset: '0' }, timing: { producedAt: now, classifiedAt: now } });
  let text = '';
  const deadline = Date.now() + 5000;
  while (!text.includes('onerror') && Date.now() < deadline) text += new TextDecoder().decode((await reader.read()).value);
  assert.match(text, /^retry: 1000/);
  const last = text.trim().split('\n\n').filter((e) => e.startsWith('data: ')).pop()!;
  const snap = JSON.parse(last.slice(6));
  assert.deepEqual(snap.view, { tag: 'price', untagged: false });
  assert.equal(snap.questions[0].text, '<img src=x onerror=alert(1)>多少钱', 'text travels as data; the page escapes it');
  assert.equal(snap.tags.find((x: { label: string }) => x.label === 'price').m1, 1);
});

test(`at most ${MAX_STREAMS} open event streams: one more gets 503 with Retry-After, and a closed one frees its place`, async (t) => {
  const { base } = await started(t);
  // Responses stay referenced: undici cancels the body of a collected Response, which would close its stream mid-test.
  const open: { ac: AbortController; res: Response }[] = [];
  t.after(() => open.forEach(({ ac }) => ac.abort()));
  for (let i = 0; i < MAX_STREAMS; i++) {
    const ac = new AbortController();
    const res = await fetch(`${base}/events`, { signal: ac.signal });
    open.push({ ac, res });
    assert.equal(res.status, 200);
  }
  const refused = await fetch(`${base}/events`);
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get('retry-after'), '5');
  assert.match(await refused.text(), new RegExp(`at most ${MAX_STREAMS} open event streams`));
  assert.equal((await fetch(`${base}/api/snapshot`)).status, 200, 'other routes still answer');
  open.shift()!.ac.abort();
  const deadline = Date.now() + 5_000;
  let status = 0;
  while (Date.now() < deadline && status !== 200) {
    const ac = new AbortController();
    const res = await fetch(`${base}/events`, { signal: ac.signal });
    status = res.status;
    if (status === 200) open.push({ ac, res });
    else await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(status, 200, 'the closed stream\'s place is free again');
});
