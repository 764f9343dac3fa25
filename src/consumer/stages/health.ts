import { createHttpServer } from '../http-server.ts';
import type { ServeMetrics } from '../metrics.ts';

export interface HealthOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: ServeMetrics;
  /** Model loaded and consumer group joined. */
  readonly isReady: () => boolean;
}

export interface Health {
  start(): Promise<void>;
  /** The service is up: `livetag_ready` 1 (readiness itself follows isReady). */
  serving(): void;
  /** The service is going away: `livetag_ready` 0 and /readyz 503 from now on. */
  leaving(): void;
  readonly ready: boolean;
  readonly port: number;
  stop(): Promise<void>;
}

/** /metrics, /healthz and /readyz on one HTTP port, and the readiness gauge. */
export function createHealth(opts: HealthOptions): Health {
  let leaving = false;
  const isReady = (): boolean => !leaving && opts.isReady();
  const http = createHttpServer({ host: opts.host, port: opts.port, registry: opts.metrics.registry, isReady });
  return {
    start: () => http.start(),
    serving: () => opts.metrics.ready.set(1),
    leaving() {
      leaving = true;
      opts.metrics.ready.set(0);
    },
    get ready() {
      return isReady();
    },
    get port() {
      return http.port;
    },
    stop: () => http.stop(),
  };
}
