import type { KafkaConnection } from './connection.ts';

export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

/** What every adapter is built from: where the cluster is, and how patient and chatty to be. */
export interface ClientOptions {
  readonly connection: Pick<KafkaConnection, 'brokers' | 'clientId' | 'ssl' | 'sasl'>;
  /** The client library's own log threshold; default `error`. */
  readonly logLevel?: KafkaLogLevel;
  /**
   * Routes the library's log lines to the service's logger. Retried,
   * recovered conditions (a coordinator still loading, a rebalance) arrive as
   * debug; real failures reach the caller as thrown errors.
   */
  readonly log?: (level: 'debug' | 'warn', message: string, fields: Record<string, unknown>) => void;
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** Upper bound on the library's own retry loop for one operation. */
  readonly maxRetryTimeMs?: number;
  readonly retries?: number;
}
