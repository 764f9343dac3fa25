/**
 * W3C trace context in and out, and OpenTelemetry spans exported by OTLP over
 * HTTP (protobuf, the specification's default, or JSON, as
 * OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL says) when
 * OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set.
 * Unset, nothing of the SDK is even imported and every call is a no-op: the
 * hot path pays one branch. Parents are passed explicitly (record headers,
 * HTTP headers) rather than through an async context manager, so spans of
 * one batch never leak into the work of another.
 */
import type { Link, Span, SpanContext, Tracer } from '@opentelemetry/api';
import { LivetagError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { RecordHeaders } from '../kafka/port.ts';

export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

type Carrier = RecordHeaders | Readonly<Record<string, string | string[] | undefined>>;

export interface SpanOptions {
  /** Headers holding the parent's `traceparent` (a Kafka record's, an HTTP request's). */
  readonly parent?: Carrier;
  /** Headers of other contexts the span works for (the records of a batch). */
  readonly links?: readonly Carrier[];
  readonly attributes?: Readonly<Record<string, string | number | boolean>>;
  readonly kind?: 'internal' | 'server' | 'consumer' | 'producer';
}

export interface SpanHandle {
  /** The span's context as W3C headers, to carry on (output records, HTTP responses); empty when tracing is off or the span is not sampled. */
  headers(): Record<string, string>;
  setAttribute(key: string, value: string | number | boolean): void;
  end(error?: unknown): void;
}

export interface Tracing {
  readonly enabled: boolean;
  startSpan(name: string, opts?: SpanOptions): SpanHandle;
  /** Flushes what is buffered and stops exporting. Idempotent. */
  stop(): Promise<void>;
}

const NOOP_SPAN: SpanHandle = Object.freeze({ headers: () => ({}), setAttribute: () => {}, end: () => {} });

export const NOOP_TRACING: Tracing = Object.freeze({ enabled: false, startSpan: () => NOOP_SPAN, stop: async () => {} });

/** The first value of a header, as text. */
export function headerText(carrier: Carrier | undefined, name: string): string | undefined {
  const v = carrier?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : String(one);
}

/** True when the environment asks for trace export (the standard OTel variables). */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export type OtlpProtocol = 'http/protobuf' | 'http/json';

/** The OTLP protocol the environment asks for; gRPC is refused by name rather than sent as HTTP to a gRPC port, where every span would be lost. */
export function otlpProtocol(env: NodeJS.ProcessEnv): OtlpProtocol {
  const asked = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf').trim();
  if (asked === 'http/protobuf' || asked === 'http/json') return asked;
  throw new LivetagError(
    'LT_CONFIG_INVALID',
    `OTEL_EXPORTER_OTLP_PROTOCOL=${asked}: livetag exports traces over OTLP/HTTP only; set http/protobuf (or http/json) and point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's HTTP port (4318 by default), or unset the endpoint to turn tracing off`,
  );
}

/** The SDK's diagnostics, failed exports above all, as rate-limited warnings: a collector that is down must show in the logs, once a minute, not once per batch. */
function diagnosticsTo(logger: Logger, everyMs = 60_000): (message: string) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (message) => {
    const now = Date.now();
    if (now - last < everyMs) {
      suppressed++;
      return;
    }
    logger.warn('tracing: span export or SDK problem', { detail: message.slice(0, 500), ...(suppressed > 0 ? { suppressedSinceLast: suppressed } : {}) });
    last = now;
    suppressed = 0;
  };
}

/** Tracing for this process: the no-op unless tracingRequested(env); then an OTLP exporter, which reads the other OTEL_* variables from process.env itself. */
export async function createTracing(env: NodeJS.ProcessEnv, service: { name: string; version: string }, logger?: Logger): Promise<Tracing> {
  if (!tracingRequested(env)) return NOOP_TRACING;
  const protocol = otlpProtocol(env);
  const [api, core, resources, sdk, otlp] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
    protocol === 'http/json' ? import('@opentelemetry/exporter-trace-otlp-http') : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  if (logger) {
    const say = diagnosticsTo(logger);
    const text = (message: string, args: unknown[]): string => [message, ...args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a)))].join(' ');
    const quiet = (): void => {};
    api.diag.setLogger({ error: (m, ...a) => say(text(m, a)), warn: (m, ...a) => say(text(m, a)), info: quiet, debug: quiet, verbose: quiet }, { logLevel: api.DiagLogLevel.WARN, suppressOverrideMessage: true });
  }
  const resource = resources
    .resourceFromAttributes({ 'service.name': service.name, 'service.version': service.version })
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new sdk.BasicTracerProvider({ resource, spanProcessors: [new sdk.BatchSpanProcessor(new otlp.OTLPTraceExporter())] });
  const tracer: Tracer = provider.getTracer('livetag', service.version);
  const propagator = new core.W3CTraceContextPropagator();
  const getter = {
    keys: (c: Carrier) => Object.keys(c),
    get: (c: Carrier, key: string) => headerText(c, key),
  };
  const contextOf = (carrier: Carrier | undefined): SpanContext | undefined => {
    if (!carrier || headerText(carrier, TRACEPARENT) === undefined) return undefined;
    const ctx = propagator.extract(api.ROOT_CONTEXT, carrier, getter);
    return api.trace.getSpanContext(ctx);
  };
  const kinds = { internal: api.SpanKind.INTERNAL, server: api.SpanKind.SERVER, consumer: api.SpanKind.CONSUMER, producer: api.SpanKind.PRODUCER };
  const handle = (span: Span): SpanHandle => ({
    headers() {
      const out: Record<string, string> = {};
      propagator.inject(api.trace.setSpan(api.ROOT_CONTEXT, span), out, { set: (c, k, v) => (c[k] = v) });
      return out;
    },
    setAttribute: (k, v) => void span.setAttribute(k, v),
    end(error) {
      if (error !== undefined) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      }
      span.end();
    },
  });
  let stopping: Promise<void> | undefined;
  return {
    enabled: true,
    startSpan(name, opts = {}) {
      const parent = contextOf(opts.parent);
      const ctx = parent ? api.trace.setSpanContext(api.ROOT_CONTEXT, parent) : api.ROOT_CONTEXT;
      const links: Link[] = [];
      for (const c of opts.links ?? []) {
        const context = contextOf(c);
        if (context) links.push({ context });
      }
      return handle(tracer.startSpan(name, { kind: kinds[opts.kind ?? 'internal'], attributes: opts.attributes, links }, ctx));
    },
    stop() {
      stopping ??= provider.shutdown().catch(() => undefined);
      return stopping;
    },
  };
}
