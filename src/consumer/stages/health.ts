import { createHttpServer, type ExtraRoutes, type HttpLimits } from '../http-server.ts';
import type { ServeMetrics } from '../metrics.ts';

export interface HealthOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: ServeMetrics;
  /** Model loaded, consumer group joined, broker answering. */
  readonly isReady: () => boolean;
  /** False once the process can no longer do its work whatever the broker does (a consumer that crashed for good). */
  readonly isLive: () => boolean;
  /** More routes on the same port (HTTP inference). */
  readonly routes?: ExtraRoutes;
  /** The server's caps where those routes need more than its defaults (http-inference.ts, serverLimitsFor). */
  readonly limits?: Partial<HttpLimits>;
}

export interface Health {
  start(): Promise<void>;
  /** The service has started; from now on `livetag_ready` follows readiness. */
  serving(): void;
  /** Sets `livetag_ready` from readiness now (called on every lag-monitor tick). */
  refresh(): void;
  /** The service is going away: `livetag_ready` 0 and /readyz 503 from now on. */
  leaving(): void;
  readonly ready: boolean;
  readonly live: boolean;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * /metrics, /healthz and /readyz on one HTTP port, and the readiness gauge.
 * Liveness never depends on the broker (restarting pods does not fix a
 * broker); readiness does.
 */
export function createHealth(opts: HealthOptions): Health {
  let leaving = false;
  let serving = false;
  const isReady = (): boolean => !leaving && opts.isLive() && opts.isReady();
  const http = createHttpServer({
    host: opts.host,
    port: opts.port,
    registry: opts.metrics.registry,
    isReady,
    isHealthy: opts.isLive,
    routes: opts.routes,
    ...(opts.limits ? { limits: opts.limits } : {}),
  });
  const refresh = (): void => void opts.metrics.ready.set(serving && isReady() ? 1 : 0);
  return {
    start: () => http.start(),
    serving() {
      serving = true;
      refresh();
    },
    refresh,
    leaving() {
      leaving = true;
      opts.metrics.ready.set(0);
    },
    get ready() {
      return isReady();
    },
    get live() {
      return opts.isLive();
    },
    get port() {
      return http.port;
    },
    stop: () => http.stop(),
  };
}
