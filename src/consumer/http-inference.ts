/**
 * Inference over HTTP on the service's own port: the Open Inference Protocol
 * (KServe V2 REST: server and model metadata, readiness, infer) and a plain
 * `POST /v1/classify`. Texts go through the classify stage's cache and
 * micro-batcher, so HTTP requests fill the same inference batches as Kafka
 * records and are answered by the same model. Guarded by a body size limit,
 * a request deadline, a concurrency cap and an optional bearer token.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { errorCode, isLivetagError } from '../common/errors.ts';
import { DEFAULT_HTTP_LIMITS, type ExtraRoutes, type HttpLimits } from './http-server.ts';
import type { ServeMetrics } from './metrics.ts';
import { ClassifyRequestSchema, V2InferRequestSchema, classifyResponse, v2InferResponse, v2ModelMetadata, v2ServerMetadata, type ModelInfo } from './kserve-v2.ts';
import type { ClassifyStage, TextResults } from './stages/classify.ts';
import { NOOP_TRACING, type Tracing } from './tracing.ts';

/**
 * The HTTP server's own caps raised to what inference is configured for, so that a large body,
 * a crowd or a slow answer gets the inference layer's 413, 429 or 504, not the server's plain
 * 413, 503 or a dropped socket at its defaults.
 */
export function serverLimitsFor(o: Pick<HttpInferenceOptions, 'maxBodyBytes' | 'maxConcurrent' | 'requestTimeoutMs'>): Partial<HttpLimits> {
  const d = DEFAULT_HTTP_LIMITS;
  // Room above the inference cap for scrapes, probes and metadata calls.
  const maxInFlight = Math.max(d.maxInFlight, o.maxConcurrent + 16);
  return {
    maxBodyBytes: o.maxBodyBytes,
    maxInFlight,
    maxConnections: Math.max(d.maxConnections, 2 * maxInFlight),
    requestTimeoutMs: Math.max(d.requestTimeoutMs, o.requestTimeoutMs + 5_000),
  };
}

export interface HttpInferenceOptions {
  /** The name clients use in /v2/models/{name}. */
  readonly modelName: string;
  readonly maxBodyBytes: number;
  /** Most texts in one request. */
  readonly maxTexts: number;
  readonly requestTimeoutMs: number;
  /** Inference requests served at once; more are answered 429. */
  readonly maxConcurrent: number;
  /** When set, every inference and metadata route wants `Authorization: Bearer <token>`. */
  readonly token?: string;
  readonly stage: () => ClassifyStage | undefined;
  readonly isReady: () => boolean;
  readonly serverVersion: string;
  readonly metrics?: ServeMetrics;
  /** Read per request: tracing starts after the HTTP server does. */
  readonly tracing?: Tracing;
}

export interface HttpInference {
  readonly handle: ExtraRoutes;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers }).end(text);
}

/** Reads the body up to `limit` bytes; over it, 413 without reading the rest. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(new HttpError(413, `body is ${declared} bytes, over ${limit}`, { connection: 'close' }));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError(413, `body is over ${limit} bytes`, { connection: 'close' }));
        req.removeAllListeners('data');
        req.resume();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson<T>(body: Buffer, schema: z.ZodType<T>): T {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `body is not JSON: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HttpError(400, `/${issue.path.join('/')}: ${issue.message}`);
  }
  return parsed.data;
}

function authorized(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

type Route = { name: string; method: 'GET' | 'POST'; auth: boolean; run: (req: IncomingMessage, model?: string) => Promise<{ status: number; body: unknown }> };

/** KServe V2 and /v1/classify routes, to register on the service's HTTP server. */
export function createHttpInference(opts: HttpInferenceOptions): HttpInference {
  let inFlight = 0;

  const info = (id: string, version: string, labels: readonly string[]): ModelInfo => ({ name: opts.modelName, id, version, labels, platform: 'onnxruntime_onnx' });

  function modelInfo(stage: ClassifyStage): ModelInfo {
    const c = stage.classifier;
    return info(c.manifest.modelId, c.manifest.version, c.labels);
  }

  /**
   * The model that answered, not the one serving now: a swap meanwhile may have changed the
   * labels, and readiness lost after the answer must not turn it into a 503.
   */
  function answeredBy(answer: TextResults): ModelInfo {
    return info(answer.model.id, answer.model.version, answer.labels);
  }

  function readyStage(): ClassifyStage {
    const stage = opts.stage();
    if (!stage || !opts.isReady()) throw new HttpError(503, 'not ready: the model is loading or the service is stopping', { 'retry-after': '1' });
    return stage;
  }

  function checkModel(name: string | undefined): void {
    if (name !== opts.modelName) throw new HttpError(404, `unknown model ${JSON.stringify(name)}; this server serves ${JSON.stringify(opts.modelName)}`);
  }

  async function texts(list: readonly string[]) {
    if (list.length > opts.maxTexts) throw new HttpError(413, `${list.length} texts, over ${opts.maxTexts} per request`);
    return readyStage().classifyTexts(list);
  }

  const routes: Route[] = [
    { name: '/v2', method: 'GET', auth: true, run: async () => ({ status: 200, body: v2ServerMetadata(opts.serverVersion) }) },
    { name: '/v2/health/live', method: 'GET', auth: false, run: async () => ({ status: 200, body: {} }) },
    { name: '/v2/health/ready', method: 'GET', auth: false, run: async () => ({ status: opts.isReady() ? 200 : 503, body: {} }) },
    {
      name: '/v2/models/{name}',
      method: 'GET',
      auth: true,
      run: async (_req, model) => (checkModel(model), { status: 200, body: v2ModelMetadata(modelInfo(readyStage())) }),
    },
    {
      name: '/v2/models/{name}/ready',
      method: 'GET',
      auth: true,
      run: async (_req, model) => (checkModel(model), { status: opts.isReady() && opts.stage() ? 200 : 503, body: {} }),
    },
    {
      name: '/v2/models/{name}/infer',
      method: 'POST',
      auth: true,
      async run(req, model) {
        checkModel(model);
        const request = parseJson(await readBody(req, opts.maxBodyBytes), V2InferRequestSchema);
        const answer = await texts(request.inputs[0].data);
        return { status: 200, body: v2InferResponse(request, answeredBy(answer), answer.results) };
      },
    },
    {
      name: '/v1/classify',
      method: 'POST',
      auth: true,
      async run(req) {
        const request = parseJson(await readBody(req, opts.maxBodyBytes), ClassifyRequestSchema);
        const answer = await texts(request.texts);
        return { status: 200, body: classifyResponse(answeredBy(answer), answer.results) };
      },
    },
  ];

  function match(path: string): { route: Route; model?: string } | undefined {
    if (path === '/v1/classify') return { route: routes[6] };
    if (path === '/v2' || path === '/v2/health/live' || path === '/v2/health/ready') return { route: routes.find((r) => r.name === path)! };
    const m = /^\/v2\/models\/([^/]+)(?:\/versions\/[^/]+)?(\/ready|\/infer)?$/.exec(path);
    if (!m) return undefined;
    let name: string;
    try {
      name = decodeURIComponent(m[1]);
    } catch {
      // A malformed escape names no model: the 404 any unknown name gets, not a handler failure.
      name = m[1];
    }
    return { route: routes.find((r) => r.name === `/v2/models/{name}${m[2] ?? ''}`)!, model: name };
  }

  /** The deadline, the concurrency cap and the error mapping around one route. */
  async function serve(route: Route, req: IncomingMessage, model: string | undefined): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
    if (req.method !== route.method) throw new HttpError(405, `use ${route.method}`, { allow: route.method });
    if (route.auth && opts.token !== undefined && !authorized(req.headers.authorization, opts.token)) {
      throw new HttpError(401, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer' });
    }
    if (route.method === 'GET') return route.run(req, model);
    if (inFlight >= opts.maxConcurrent) throw new HttpError(429, `${opts.maxConcurrent} requests already in flight`, { 'retry-after': '1' });
    inFlight++;
    let timer: NodeJS.Timeout | undefined;
    const work = route.run(req, model);
    // The slot is held until the work ends, past a 504 too: freed at the deadline, it would let
    // new requests pile more texts onto the batcher behind work that is still queued there.
    const release = (): void => void inFlight--;
    work.then(release, release);
    try {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new HttpError(504, `no answer within ${opts.requestTimeoutMs} ms`)), opts.requestTimeoutMs);
      });
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  function failure(err: unknown): HttpError {
    if (err instanceof HttpError) return err;
    // Inference failures the consumer would retry are the server's, and worth a retry by the client too.
    const code = errorCode(err);
    const retryable = isLivetagError(err) && err.retryable;
    return new HttpError(retryable || code === 'LT_STOPPED' ? 503 : 500, `${code}: ${(err as Error).message}`);
  }

  return {
    async handle(req, res, path) {
      const found = match(path);
      if (!found) return false;
      const { route, model } = found;
      const span = (opts.tracing ?? NOOP_TRACING).startSpan(`${req.method} ${route.name}`, { parent: req.headers, kind: 'server', attributes: { 'http.request.method': req.method ?? '', 'http.route': route.name } });
      const end = opts.metrics?.httpDuration.startTimer({ route: route.name });
      opts.metrics?.httpInFlight.inc({ route: route.name });
      let status = 500;
      let error: unknown;
      try {
        const out = await serve(route, req, model);
        status = out.status;
        send(res, status, out.body, { ...span.headers(), ...out.headers });
      } catch (err) {
        const e = failure(err);
        status = e.status;
        if (status >= 500) error = err;
        send(res, status, { error: e.message }, { ...span.headers(), ...e.headers });
      } finally {
        span.setAttribute('http.response.status_code', status);
        span.end(error);
        end?.();
        opts.metrics?.httpInFlight.dec({ route: route.name });
        opts.metrics?.httpRequests.inc({ route: route.name, status: String(status) });
      }
      return true;
    },
  };
}
