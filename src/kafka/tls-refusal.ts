/**
 * Whether a broker refuses this client's TLS certificate (mTLS), asked with
 * Node's own TLS: librdkafka's error events say only "broker transport
 * failure" for that, the same as for a broker that is down, so the librdkafka
 * adapter's login check (confluent-login-check.ts) asks here as well.
 */
import net from 'node:net';
import tls from 'node:tls';
import { LivetagError } from '../common/errors.ts';
import { authErrorCode } from './auth-errors.ts';

export interface TlsProbeTarget {
  readonly host: string;
  readonly port: number;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/**
 * ApiVersions v0 with correlation id 1 and a null client id: the one request
 * every Kafka listener answers before any SASL exchange, so an answer means
 * the TLS session, client certificate included, was accepted.
 */
const API_VERSIONS_V0 = Buffer.from([0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);

/**
 * LT_KAFKA_AUTH when the broker ends the handshake with a certificate alert
 * (TLS 1.2 during the handshake, TLS 1.3 right after it), else undefined:
 * accepted, unreachable, or no answer within `timeoutMs` are not this probe's
 * to judge. The broker's own certificate is not verified here: librdkafka
 * does that itself, with its own settings.
 */
export function tlsRefusal(target: TlsProbeTarget, timeoutMs: number): Promise<LivetagError | undefined> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: target.host, port: target.port, ca: target.ca, cert: target.cert, key: target.key, servername: net.isIP(target.host) ? undefined : target.host, rejectUnauthorized: false });
    const done = (verdict?: LivetagError): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(verdict);
    };
    const timer = setTimeout(() => done(), timeoutMs);
    timer.unref();
    socket.once('secureConnect', () => socket.write(API_VERSIONS_V0));
    socket.once('data', () => done());
    socket.once('close', () => done());
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (authErrorCode(err) !== 'LT_KAFKA_AUTH') return done();
      done(new LivetagError('LT_KAFKA_AUTH', `the broker at ${target.host}:${target.port} refused this client's TLS certificate (${err.code}); check LIVETAG_KAFKA_TLS_CERT_FILE and LIVETAG_KAFKA_TLS_KEY_FILE`, { cause: err }));
    });
  });
}
