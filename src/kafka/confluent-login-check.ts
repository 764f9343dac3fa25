/**
 * The librdkafka adapter's login check, run once per client before its first
 * connection when the connection uses SASL or TLS.
 *
 * librdkafka reports a refused login (a wrong SCRAM password, a token the
 * broker refuses, a TLS handshake the broker ends) through its error callback,
 * which the library serves only while someone polls the client. Its
 * KafkaJS-style clients do not poll while connect() waits for the first
 * metadata, so the refusal surfaced only as "broker transport failure" at the
 * 30 s metadata timeout. A bare producer that polls while it connects hears
 * it within a second (measured: 350 ms on the local SASL_SSL broker). A client
 * certificate the broker refuses (mTLS) reaches those events only as "broker
 * transport failure", so over TLS a Node handshake asks too (tls-refusal.ts).
 */
import { LivetagError } from '../common/errors.ts';
import { authErrorCode } from './auth-errors.ts';
import type { ConfluentLibrary } from './confluent-context.ts';
import type { RdkafkaConfig } from './confluent-mapping.ts';
import { tlsRefusal, type TlsProbeTarget } from './tls-refusal.ts';

const POLL_MS = 50;
/**
 * Kept short because a pending metadata request cannot be cancelled and keeps
 * the process alive until it ends; a broker slower than this only means that
 * the check passes without a verdict and the real connection judges as before.
 */
const CHECK_TIMEOUT_MS = 5_000;

/**
 * librdkafka's texts (rd_kafka_err2str) for the refusals retrying cannot fix:
 * __AUTHENTICATION (-169) and __SSL (-181). The library's error events lose
 * the numeric code (-1), so the text is what is left to judge by.
 */
const REFUSED = /^(Local: )?(Authentication failure|SSL error)$/i;

type ErrorEvent = { message?: unknown; stack?: unknown };
type BareProducer = {
  on(event: 'event.error' | 'error', listener: (err: ErrorEvent) => void): unknown;
  connect(options: { timeout: number }, cb: (err: unknown) => void): unknown;
  poll(): unknown;
  disconnect(cb: () => void): unknown;
};

/** librdkafka's own text of an error event: the first line of `stack` (the library lower-cases `message`). */
function librdkafkaText(err: ErrorEvent): string | undefined {
  return typeof err.stack === 'string' ? err.stack.split('\n')[0]!.replace(/^Error: /, '') : undefined;
}

/** Whether a library error event is a refused login, by the text it carries. */
export function isRefusedLogin(err: ErrorEvent): boolean {
  return [err.message, librdkafkaText(err)].some((t) => typeof t === 'string' && REFUSED.test(t));
}

/**
 * `check()` (with `tls` the first broker and the TLS files, when the connection uses TLS) resolves once the brokers accepted a login or could not judge it
 * within `timeoutMs` (at most 5 s; a client's connection timeout, so a probe
 * stays as quick as it asked), and rejects with LT_KAFKA_AUTH when they
 * refused it; the verdict is kept.
 */
export function createLoginCheck(library: ConfluentLibrary, config: RdkafkaConfig, tls: TlsProbeTarget | undefined, timeoutMs = CHECK_TIMEOUT_MS): () => Promise<void> {
  let verdict: Promise<void> | undefined;
  const timeout = Math.max(1_000, Math.min(timeoutMs, CHECK_TIMEOUT_MS));
  return () => (verdict ??= check(library, config, tls, timeout));
}

/** The first bootstrap broker (`host:port`, IPv6 in brackets) and the connection's TLS files, for the certificate probe. */
export function tlsTarget(broker: string, ssl: { readonly ca?: string; readonly cert?: string; readonly key?: string } | true): TlsProbeTarget {
  const at = broker.lastIndexOf(':');
  const files = ssl === true ? {} : ssl;
  return { host: broker.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(broker.slice(at + 1)), ca: files.ca, cert: files.cert, key: files.key };
}

/** Both checks at once: the first refusal decides; otherwise librdkafka's outcome. */
function check(library: ConfluentLibrary, config: RdkafkaConfig, tls: TlsProbeTarget | undefined, timeoutMs: number): Promise<void> {
  const refusedCertificate = tls ? tlsRefusal(tls, timeoutMs) : Promise.resolve(undefined);
  const login = librdkafkaCheck(library, config, timeoutMs);
  return new Promise<void>((resolve, reject) => {
    void refusedCertificate.then((err) => err && reject(err));
    login.then(resolve, reject);
  });
}

function librdkafkaCheck(library: ConfluentLibrary, config: RdkafkaConfig, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // Inside the executor: a configuration the library refuses becomes this promise's rejection.
    const producer = new library.Producer({ ...config, 'client.id': `${String(config['client.id'] ?? 'livetag')}-login-check` }) as unknown as BareProducer;
    let done = false;
    const poll = setInterval(() => {
      try {
        producer.poll();
      } catch {
        // not connected yet: the native client is still being created
      }
    }, POLL_MS);
    poll.unref();
    const finish = (err?: LivetagError): void => {
      if (done) return;
      done = true;
      clearInterval(poll);
      if (err) reject(err);
      else resolve();
    };
    producer.on('event.error', (err) => {
      if (!isRefusedLogin(err)) return;
      const text = librdkafkaText(err) ?? String(err.message);
      finish(new LivetagError('LT_KAFKA_AUTH', `Kafka refused the login: librdkafka reports "${text}"; check the SASL credentials and the TLS files (docs/errors.md)`));
    });
    // The library emits a refused OAUTHBEARER token (our token source's LT_KAFKA_AUTH, or any other failure of it) as 'error'; unheard, it would throw.
    producer.on('error', (err) => {
      if (authErrorCode(err) === 'LT_KAFKA_AUTH') finish(new LivetagError('LT_KAFKA_AUTH', `Kafka login: ${String((err as ErrorEvent).message)}`, { cause: err }));
    });
    producer.connect({ timeout: timeoutMs }, (err) => {
      // A connect that fails (no verdict: timeout, broker down) is disconnected by the library itself.
      if (err) return finish();
      producer.disconnect(() => finish());
    });
  });
}
