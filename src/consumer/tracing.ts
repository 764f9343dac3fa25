/**
 * W3C trace context in and out, and OpenTelemetry spans exported by OTLP
 * (HTTP/protobuf or JSON, as the standard OTEL_* variables say) when
 * OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set.
 * Unset, nothing of the SDK is even imported and every call is a no-op: the
 * hot path pays one branch. Parents are passed explicitly (record headers,
 * HTTP headers) rather than through an async context manager, so spans of
 * one batch never leak into the work of another.
 */
import type { Link, Span, SpanContext, Tracer } from '@opentelemetry/api';
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

/** Tracing for this process: the no-op unless tracingRequested(env); then an OTLP exporter configured by the OTEL_* variables. */
export async function createTracing(env: NodeJS.ProcessEnv, service: { name: string; version: string }): Promise<Tracing> {
  if (!tracingRequested(env)) return NOOP_TRACING;
  const [api, core, resources, sdk, otlp] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
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
