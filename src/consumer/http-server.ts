import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HttpServer {
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** /metrics, /healthz (the process serves), /readyz (model loaded and group joined). */
export function createHttpServer(opts: { host: string; port: number; registry: Registry; isReady: () => boolean; isHealthy?: () => boolean }): HttpServer {
  let server: Server | undefined;
  let port = opts.port;
  let stopping: Promise<void> | undefined;
  return {
    get port() {
      return port;
    },
    async start() {
      server = createServer(async (req, res) => {
        const path = (req.url ?? '/').split('?')[0];
        if (path === '/metrics') {
          res.writeHead(200, { 'content-type': opts.registry.contentType });
          res.end(await opts.registry.metrics());
        } else if (path === '/healthz') {
          const ok = opts.isHealthy?.() ?? true;
          res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'unhealthy\n');
        } else if (path === '/readyz') {
          const ok = opts.isReady();
          res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n');
        } else {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        }
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
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
