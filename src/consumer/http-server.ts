/**
 * The service's one HTTP port: /metrics, /healthz, /readyz and whatever
 * `routes` adds (HTTP inference). The protections live here, around the
 * dispatch, so every route has them, including routes added later: a cap on
 * open connections and on requests in flight, header/request/idle timeouts,
 * a declared-body-size cap, and a handler that throws answers 500 (logged
 * once, without the request) instead of leaving the client hanging or
 * taking the process down.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { LivetagError } from '../common/errors.ts';

export interface HttpServer {
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Answers a request when the path is one of its routes; false leaves it to the server's own. */
export type ExtraRoutes = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;

export interface HttpLimits {
  /** Open sockets at once; more are closed on accept (Node's server.maxConnections). */
  readonly maxConnections: number;
  /** Requests being handled at once; more are answered 503 at once. */
  readonly maxInFlight: number;
  /** A request whose Content-Length is larger is answered 413 before any route sees it. */
  readonly maxBodyBytes: number;
  readonly maxHeaderBytes: number;
  readonly headersTimeoutMs: number;
  /** Whole request, body included. */
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = Object.freeze({
  maxConnections: 128,
  maxInFlight: 32,
  maxBodyBytes: 1024 * 1024,
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
});

export interface HttpServerOptions {
  /** Where to listen; the service's LIVETAG_HTTP_HOST (127.0.0.1 keeps it off the network). */
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly isReady: () => boolean;
  readonly isHealthy?: () => boolean;
  readonly routes?: ExtraRoutes;
  readonly limits?: Partial<HttpLimits>;
  /** Where a failing handler is reported; default stderr. */
  readonly onError?: (path: string, err: unknown) => void;
}

/** /metrics, /healthz (the process serves), /readyz (model loaded and group joined), and `routes` (inference, see http-inference.ts). */
export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits };
  const onError = opts.onError ?? ((path, err) => process.stderr.write(`livetag http: handler for ${path} failed: ${(err as Error)?.message ?? String(err)}\n`));
  let server: Server | undefined;
  let port = opts.port;
  let stopping: Promise<void> | undefined;
  let inFlight = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    // Probes are cheap and must not fail because inference requests pile up: kubelet would restart a busy pod.
    const probe = path === '/healthz' || path === '/readyz';
    if (!probe && inFlight >= limits.maxInFlight) return plain(res, 503, 'busy\n', { 'retry-after': '1' });
    if (Number(req.headers['content-length'] ?? 0) > limits.maxBodyBytes) return plain(res, 413, 'request body too large\n', { connection: 'close' });
    inFlight++;
    try {
      await dispatch(opts, req, res, path);
    } catch (err) {
      onError(path, err);
      if (!res.headersSent) plain(res, 500, 'internal error\n');
      else res.destroy();
    } finally {
      inFlight--;
    }
  }

  return {
    get port() {
      return port;
    },
    async start() {
      server = createServer({ maxHeaderSize: limits.maxHeaderBytes, requestTimeout: limits.requestTimeoutMs, headersTimeout: limits.headersTimeoutMs }, (req, res) => {
        void handle(req, res);
      });
      server.maxConnections = limits.maxConnections;
      server.keepAliveTimeout = limits.keepAliveTimeoutMs;
      // A client that never reads its response must not hold a socket forever.
      server.setTimeout(limits.requestTimeoutMs, (socket) => socket.destroy());
      await new Promise<void>((resolve, reject) => {
        server!.once('error', (err) =>
          reject(new LivetagError('LT_CONFIG_INVALID', `cannot listen on ${opts.host}:${opts.port} (LIVETAG_HTTP_HOST/LIVETAG_HTTP_PORT): ${err.message}`, { cause: err })),
        );
        server!.listen(opts.port, opts.host, () => resolve());
      });
      port = (server.address() as AddressInfo).port;
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}

async function dispatch(opts: HttpServerOptions, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  if (path === '/metrics') {
    const body = await opts.registry.metrics();
    res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body);
  } else if (path === '/healthz') {
    const ok = opts.isHealthy?.() ?? true;
    plain(res, ok ? 200 : 503, ok ? 'ok\n' : 'unhealthy\n');
  } else if (path === '/readyz') {
    const ok = opts.isReady();
    plain(res, ok ? 200 : 503, ok ? 'ready\n' : 'not ready\n');
  } else if (!(await opts.routes?.(req, res, path))) {
    plain(res, 404, 'not found\n');
  }
}

function plain(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(body);
}

/**
 * A route's request body, refused (LT_MSG_TOO_LARGE) once it passes
 * `maxBytes` whatever Content-Length claimed: chunked bodies declare none.
 */
export function readRequestBody(req: IncomingMessage, maxBytes = DEFAULT_HTTP_LIMITS.maxBodyBytes): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      // Stop keeping it, but let the rest drain: destroying the request would reset the socket before the 413 is sent.
      req.off('data', onData);
      req.resume();
      reject(new LivetagError('LT_MSG_TOO_LARGE', `request body over ${maxBytes} bytes`));
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}
