/**
 * Certificates for the secured local broker, made on the fly with openssl: a
 * throwaway CA, a broker certificate for 127.0.0.1/localhost (also used as the
 * broker's own client certificate towards its controller listener) and one
 * client certificate for mutual TLS. PEM throughout, which Kafka (PEM key and
 * trust stores) and Node's tls take as they are, so no keystore passwords.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LivetagError } from '../common/errors.ts';

export type BrokerTlsFiles = {
  readonly caCert: string;
  /** Broker key + certificate in one PEM, the form Kafka's PEM keystore reads. */
  readonly brokerKeystore: string;
  readonly clientCert: string;
  readonly clientKey: string;
};

/** The broker certificate's subject; the controller listener authenticates the broker as this principal. */
export const BROKER_CN = 'livetag-broker';
export const CLIENT_CN = 'livetag-client';

export function tlsFiles(dir: string): BrokerTlsFiles {
  const tls = path.join(dir, 'tls');
  return {
    caCert: path.join(tls, 'ca.pem'),
    brokerKeystore: path.join(tls, 'broker-keystore.pem'),
    clientCert: path.join(tls, 'client.pem'),
    clientKey: path.join(tls, 'client-key.pem'),
  };
}

/** Creates the files once per directory; a kept --dir reuses them, so clients' CA files stay valid. */
export function ensureBrokerTls(dir: string): BrokerTlsFiles {
  const files = tlsFiles(dir);
  if (Object.values(files).every((f) => fs.existsSync(f))) return files;
  const tls = path.dirname(files.caCert);
  fs.mkdirSync(tls, { recursive: true, mode: 0o700 });
  const f = (name: string) => path.join(tls, name);
  const days = '825';
  // EC P-256: fast to generate, and Kafka's PEM loader and Node both take it.
  const key = (out: string) => openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out]);
  key(f('ca-key.pem'));
  openssl(['req', '-x509', '-new', '-key', f('ca-key.pem'), '-days', days, '-subj', '/CN=livetag local CA', '-out', files.caCert,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const issue = (name: string, cn: string, ext: string) => {
    key(f(`${name}-key.pem`));
    openssl(['req', '-new', '-key', f(`${name}-key.pem`), '-subj', `/CN=${cn}`, '-out', f(`${name}.csr`)]);
    fs.writeFileSync(f(`${name}.ext`), ext);
    openssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', files.caCert, '-CAkey', f('ca-key.pem'), '-CAcreateserial',
      '-days', days, '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`)]);
  };
  issue('broker', BROKER_CN, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  issue('client', CLIENT_CN, 'extendedKeyUsage=clientAuth\n');
  fs.writeFileSync(files.brokerKeystore, fs.readFileSync(f('broker-key.pem'), 'utf8') + fs.readFileSync(f('broker.pem'), 'utf8'), { mode: 0o600 });
  fs.chmodSync(files.clientKey, 0o600);
  return files;
}

function openssl(args: string[]): void {
  const run = spawnSync(process.env.OPENSSL ?? 'openssl', args, { encoding: 'utf8', timeout: 30_000 });
  if (run.error || run.status !== 0) {
    const why = run.error ? run.error.message : `exit ${run.status}: ${run.stderr.trim().split('\n').slice(-5).join('\n')}`;
    throw new LivetagError('LT_BROKER', `cannot make the secured broker's certificates with openssl ${args[0]} (${why}); install openssl 1.1.1+`);
  }
}
