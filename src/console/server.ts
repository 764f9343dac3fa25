/**
 * The console's HTTP side: three static files and a Server-Sent Events
 * stream of snapshots. Audience comments are untrusted and shown in the
 * host's browser, so the server is read-only (GET/HEAD), sends a strict
 * Content-Security-Policy, refuses foreign Host headers on loopback (DNS
 * rebinding) and, given a token, lets nothing through without it.
 */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIPv4, type AddressInfo } from 'node:net';
import { LivetagError } from '../common/errors.ts';
import type { ConsoleAggregator, ConsoleView } from './aggregator.ts';
import { createSnapshotPush } from './event-stream.ts';

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS = Object.freeze({
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
});

const COOKIE = 'livetag_console';
/** How often a connected page gets a snapshot at most; the page renders once per frame anyway. */
const PUSH_MS = 250;
/** Counts age with the clock: resend this often even when nothing arrived. */
const IDLE_PUSH_MS = 2000;
/** Unsent bytes above which a stream skips snapshots. */
const MAX_BUFFERED_BYTES = 1 << 20;
/** Open event streams at most; more get 503 (each is a timer and a snapshot every PUSH_MS). */
export const MAX_STREAMS = 64;

const PAGE_DIR = new URL('./page/', import.meta.url);
const STATIC: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

export interface ConsoleServerOptions {
  readonly host: string;
  readonly port: number;
  readonly token?: string;
  readonly aggregator: ConsoleAggregator;
  /** Whether the topic's consumer has joined: /healthz answers 503 until then. */
  readonly isReady: () => boolean;
}

export interface ConsoleServer {
  readonly port: number;
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** An address literal or `localhost`: a name such as 127.evil.example can be rebound to anything. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || (isIPv4(host) && host.startsWith('127.'));
}

function sameSecret(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name !== COOKIE) continue;
    try {
      return decodeURIComponent(rest.join('='));
    } catch {
      // Cookies are shared across ports: another app on this host may have set a malformed one.
      return undefined;
    }
  }
  return undefined;
}

export function viewOf(params: URLSearchParams): ConsoleView {
  const room = params.get('room')?.slice(0, 200) || undefined;
  const tag = params.get('tag')?.slice(0, 100) || undefined;
  return Object.freeze({ ...(room ? { room } : {}), ...(tag ? { tag } : {}), untagged: params.get('untagged') === '1' });
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function loadPages(): Map<string, Buffer> {
  const pages = new Map<string, Buffer>();
  for (const [route, { file }] of Object.entries(STATIC)) pages.set(route, readFileSync(new URL(file, PAGE_DIR)));
  return pages;
}

export function createConsoleServer(opts: ConsoleServerOptions): ConsoleServer {
  let server: Server | undefined;
  let port = opts.port;
  let stopping: Promise<void> | undefined;
  const streams = new Set<() => void>();
  const pages = loadPages();

  const hostAllowed = (req: IncomingMessage): boolean => {
    if (!isLoopback(opts.host)) return true;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    return isLoopback(host);
  };

  /** Bearer header (scripts), cookie (the page), or ?token= on the page itself, which then sets the cookie. */
  const authorize = (req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    const token = opts.token;
    if (!token) return true;
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (sameSecret(bearer, token) || sameSecret(cookieToken(req), token)) return true;
    if (url.pathname === '/' && sameSecret(url.searchParams.get('token') ?? undefined, token)) {
      res.writeHead(303, { ...SECURITY_HEADERS, location: '/', 'set-cookie': `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/` });
      res.end();
      return false;
    }
    send(res, 401, 'text/plain; charset=utf-8', 'a bearer token is required: open /?token=… or send Authorization: Bearer …\n', { 'www-authenticate': 'Bearer realm="livetag console"' });
    return false;
  };

  const stream = (req: IncomingMessage, res: ServerResponse, view: ConsoleView): void => {
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 1000\n\n');
    const push = createSnapshotPush(res, { version: () => opts.aggregator.version, snapshot: (now) => opts.aggregator.snapshot(view, now) }, { maxBufferedBytes: MAX_BUFFERED_BYTES, idlePushMs: IDLE_PUSH_MS });
    push();
    const timer = setInterval(push, PUSH_MS);
    const close = (): void => {
      clearInterval(timer);
      streams.delete(close);
      res.end();
    };
    streams.add(close);
    req.once('close', close);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (!hostAllowed(req)) return send(res, 421, 'text/plain; charset=utf-8', 'unexpected Host header\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'read-only\n', { allow: 'GET, HEAD' });
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://console.invalid');
    } catch {
      // A target such as "//" is no URL to resolve; any page may send it (an <img> will).
      return send(res, 400, 'text/plain; charset=utf-8', 'bad request target\n');
    }
    if (url.pathname === '/healthz') {
      const ok = opts.isReady();
      return send(res, ok ? 200 : 503, 'text/plain; charset=utf-8', ok ? 'ok\n' : 'not ready\n');
    }
    if (!authorize(req, res, url)) return;
    const page = STATIC[url.pathname];
    if (page) return send(res, 200, page.type, pages.get(url.pathname)!);
    if (url.pathname === '/events') {
      if (streams.size >= MAX_STREAMS) return send(res, 503, 'text/plain; charset=utf-8', `at most ${MAX_STREAMS} open event streams\n`, { 'retry-after': '5' });
      return stream(req, res, viewOf(url.searchParams));
    }
    if (url.pathname === '/api/snapshot') return send(res, 200, 'application/json; charset=utf-8', JSON.stringify(opts.aggregator.snapshot(viewOf(url.searchParams))));
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  };

  return {
    get port() {
      return port;
    },
    get url() {
      return `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/`;
    },
    async start() {
      server = createServer(handle);
      await new Promise<void>((resolve, reject) => {
        server!.once('error', (err: NodeJS.ErrnoException) =>
          reject(new LivetagError('LT_CONFIG_INVALID', `console cannot listen on ${opts.host}:${opts.port}: ${err.code ?? err.message}`, { cause: err })),
        );
        server!.listen(opts.port, opts.host, () => resolve());
      });
      port = (server.address() as AddressInfo).port;
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        for (const close of [...streams]) close();
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}
