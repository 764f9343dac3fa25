/**
 * Spans around the pipeline's stages, and the trace context carried from an
 * input record to its output record. With tracing off the stages are
 * returned as they are: no wrapper, no per-record work.
 */
import type { ConsumedRecord } from '../kafka/port.ts';
import type { OutRecord } from './output-record.ts';
import { TRACEPARENT, headerText, type SpanHandle, type Tracing } from './tracing.ts';

type Process = (records: readonly ConsumedRecord[]) => Promise<OutRecord[]>;
type Deliver<P> = (outs: OutRecord[], position: P) => Promise<void>;

/**
 * One `livetag.batch` span per chunk, linked to every record's context, and
 * one `livetag.process` span per record that arrived with a `traceparent`
 * (its child), whose context the output record carries on in place of the
 * input's: downstream consumers continue the same trace.
 */
export function traceProcess(tracing: Tracing, process: Process): Process {
  if (!tracing.enabled) return process;
  return async (records) => {
    const first = records[0];
    const batch = tracing.startSpan('livetag.batch', {
      kind: 'consumer',
      links: records.map((r) => r.headers),
      attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': first?.topic ?? '', 'messaging.destination.partition.id': String(first?.partition ?? ''), 'messaging.batch.message_count': records.length },
    });
    const spans: (SpanHandle | undefined)[] = records.map((r) =>
      headerText(r.headers, TRACEPARENT) === undefined
        ? undefined
        : tracing.startSpan('livetag.process', { parent: r.headers, kind: 'consumer', attributes: { 'messaging.kafka.offset': r.offset, 'messaging.destination.name': r.topic } }),
    );
    let error: unknown;
    try {
      const outs = await process(records);
      // process() answers one output per record, in source order.
      return outs.map((out, i) => {
        const span = spans[i];
        if (!span) return out;
        span.setAttribute('livetag.outcome', out.kind);
        return { ...out, headers: { ...out.headers, ...span.headers() } };
      });
    } catch (err) {
      error = err;
      throw err;
    } finally {
      for (const span of spans) span?.end(error);
      batch.end(error);
    }
  };
}

/** One `livetag.publish` span per delivery, linked to the contexts the published records carry. */
export function traceDeliver<P>(tracing: Tracing, deliver: Deliver<P>): Deliver<P> {
  if (!tracing.enabled) return deliver;
  return async (outs, position) => {
    const span = tracing.startSpan('livetag.publish', {
      kind: 'producer',
      links: outs.map((o) => o.headers),
      attributes: { 'messaging.system': 'kafka', 'messaging.batch.message_count': outs.length, 'livetag.dead_letters': outs.filter((o) => o.kind === 'dead-letter').length },
    });
    try {
      await deliver(outs, position);
      span.end();
    } catch (err) {
      span.end(err);
      throw err;
    }
  };
}
