import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { isLivetagError } from '../../../src/common/errors.ts';
import { ensureBrokerTls } from '../../../src/dev/broker-tls.ts';
import { tlsRefusal } from '../../../src/kafka/tls-refusal.ts';

// A Node TLS server in the broker's place, with the certificates `livetag kafka start --secure` makes.
let dir = '';
let server: tls.Server | undefined;
let port = 0;
const requests: Buffer[] = [];
let pem: { ca: string; cert: string; key: string } = { ca: '', cert: '', key: '' };

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'livetag-tls-refusal-'));
  const files = ensureBrokerTls(dir);
  pem = { ca: fs.readFileSync(files.caCert, 'utf8'), cert: fs.readFileSync(files.clientCert, 'utf8'), key: fs.readFileSync(files.clientKey, 'utf8') };
  const keystore = fs.readFileSync(files.brokerKeystore, 'utf8');
  // Like a broker with ssl.client.auth=required: no certificate signed by its CA, no session.
  server = tls.createServer({ key: keystore, cert: keystore, ca: pem.ca, requestCert: true, rejectUnauthorized: true }, (socket) => {
    socket.once('data', (d: Buffer) => {
      requests.push(d);
      socket.end(Buffer.from([0, 0, 0, 6, 0, 0, 0, 1, 0, 0]));
    });
    socket.on('error', () => {});
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(() => {
  server?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a client without a certificate is refused: LT_KAFKA_AUTH, not retryable, naming the alert', async () => {
  const verdict = await tlsRefusal({ host: '127.0.0.1', port, ca: pem.ca }, 5_000);
  assert.ok(isLivetagError(verdict, 'LT_KAFKA_AUTH'), String(verdict));
  assert.equal(verdict.retryable, false);
  assert.match(verdict.message, /ERR_SSL_\w*ALERT\w*/);
});

test('a client with a certificate the broker trusts is accepted, after one ApiVersions request', async () => {
  const before = requests.length;
  assert.equal(await tlsRefusal({ host: '127.0.0.1', port, ...pem }, 5_000), undefined);
  assert.equal(requests.length, before + 1);
  assert.deepEqual([...requests.at(-1)!], [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff], 'ApiVersions v0, correlation id 1, null client id');
});

test('nothing listening, or no answer in time, is no verdict', async () => {
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  assert.equal(await tlsRefusal({ host: '127.0.0.1', port: closedPort }, 5_000), undefined);

  // A TCP server that never speaks TLS: the probe gives up at its timeout.
  // It reads (so it sees the probe hang up and can close) but never answers.
  const silent = net.createServer((socket) => socket.resume().on('error', () => {}));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const t0 = Date.now();
  assert.equal(await tlsRefusal({ host: '127.0.0.1', port: (silent.address() as AddressInfo).port }, 300), undefined);
  assert.ok(Date.now() - t0 < 2_000);
  await new Promise<void>((r) => silent.close(() => r()));
});
