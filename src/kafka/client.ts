/**
 * Picks the Kafka adapter (LIVETAG_KAFKA_CLIENT) and offers the few
 * operations built on the port alone: broker lists, readiness probes.
 */
import { LivetagError } from '../common/errors.ts';
import type { ClientOptions } from './client-options.ts';
import type { KafkaConnection } from './connection.ts';
import { createKafkajsClient } from './kafkajs-adapter.ts';
import type { ClusterInfo, KafkaClient, KafkaClientName } from './port.ts';

export function parseBrokers(brokers: string | readonly string[]): string[] {
  const list = (typeof brokers === 'string' ? brokers.split(',') : [...brokers]).map((b) => b.trim()).filter(Boolean);
  if (list.length === 0) throw new LivetagError('LT_CONFIG_INVALID', 'no Kafka brokers given');
  for (const b of list) {
    if (!/^[^\s:]+:\d+$/.test(b) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(b)) {
      throw new LivetagError('LT_CONFIG_INVALID', `Kafka broker "${b}" is not host:port`);
    }
  }
  return list;
}

export type KafkaClientOptions = Omit<ClientOptions, 'connection'> & {
  readonly connection: Omit<Pick<KafkaConnection, 'brokers' | 'clientId' | 'ssl' | 'sasl'>, 'brokers'> & {
    readonly brokers: string | readonly string[];
    readonly client?: KafkaClientName;
  };
};

/**
 * A client of the library the connection names (kafkajs by default). The
 * librdkafka adapter is an optional dependency loaded only when asked for.
 */
export async function createKafkaClient(options: KafkaClientOptions): Promise<KafkaClient> {
  const connection = { ...options.connection, brokers: parseBrokers(options.connection.brokers) };
  const resolved: ClientOptions = { ...options, connection };
  if ((options.connection.client ?? 'kafkajs') === 'kafkajs') return createKafkajsClient(resolved);
  let adapter: typeof import('./confluent-adapter.ts');
  try {
    adapter = await import('./confluent-adapter.ts');
  } catch (cause) {
    throw new LivetagError(
      'LT_CONFIG_INVALID',
      `LIVETAG_KAFKA_CLIENT=confluent, but @confluentinc/kafka-javascript cannot be loaded (${(cause as Error).message}); ` +
        'install it with CKJS_LINKING=dynamic (see docs/kafka.md) or use kafkajs',
      { cause },
    );
  }
  return adapter.createConfluentClient(resolved);
}

type ProbeOptions = Pick<KafkaClientOptions['connection'], 'brokers' | 'ssl' | 'sasl' | 'client'> & { readonly timeoutMs?: number };

/** One readiness check: describes the cluster. Throws LT_KAFKA if unreachable. */
export async function probeKafka(options: ProbeOptions): Promise<ClusterInfo> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const { timeoutMs: _t, ...connection } = options;
  // A probe must answer quickly and quietly: no retry loop, no logs of the
  // expected "connection refused" while a broker boots.
  const client = await createKafkaClient({
    connection: { ...connection, clientId: 'livetag-probe' },
    logLevel: 'nothing',
    connectionTimeoutMs: Math.min(timeoutMs, 3_000),
    requestTimeoutMs: timeoutMs,
    retries: 0,
  });
  try {
    return await client.admin.describeCluster();
  } catch (err) {
    throw new LivetagError('LT_KAFKA', `Kafka at ${client.brokers.join(',')} is not reachable: ${messageOf(err)}`, { cause: err });
  }
}

/**
 * Polls `probeKafka` until it succeeds (and `accept` likes the answer),
 * `timeoutMs` passes, or `abort` returns a reason to give up early (e.g. the
 * broker process died).
 */
export async function waitForKafka(
  options: ProbeOptions & {
    readonly timeoutMs: number;
    readonly intervalMs?: number;
    readonly abort?: () => string | undefined;
    /** E.g. check the cluster id, so that another broker on the port is not mistaken for ours. */
    readonly accept?: (info: ClusterInfo) => boolean;
  },
): Promise<ClusterInfo> {
  const { intervalMs, abort, accept, timeoutMs, ...probe } = options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const reason = abort?.();
    if (reason !== undefined) throw new LivetagError('LT_KAFKA', reason);
    try {
      const info = await probeKafka({ ...probe, timeoutMs: Math.max(1_000, Math.min(5_000, deadline - Date.now())) });
      if (info.brokers.length > 0 && (accept?.(info) ?? true)) return info;
      last = new Error(`unexpected cluster ${info.clusterId} answered`);
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      throw new LivetagError('LT_KAFKA', `Kafka not ready after ${timeoutMs} ms: ${messageOf(last)}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, intervalMs ?? 250));
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
