/**
 * One secured local broker per test file (SASL_SSL, SCRAM users, ACLs: see
 * src/dev/broker-security.ts), the admin's kafkajs client for setup and
 * checks, and the service user's settings as `livetag kafka start --secure
 * --env-file` writes them.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { envFileText, type BrokerSecurity } from '../../../src/dev/broker-security.ts';
import { createLocalBroker, type LocalBroker } from '../../../src/dev/local-broker.ts';
import { createKafka, deleteTopics, ensureTopics, type KafkaClient } from '../../helpers/kafkajs.ts';
import { REPO_ROOT } from '../../helpers/shared.ts';
import { uniqueName } from '../helpers/kafka.ts';

export const NO_BROKER = process.env.LIVETAG_TEST_NO_LOCAL_BROKER === '1' && 'LIVETAG_TEST_NO_LOCAL_BROKER=1: the secured broker is a local one';

export type Secured = { broker: LocalBroker; security: BrokerSecurity; admin: KafkaClient; serviceEnv: Record<string, string> };

export async function startSecureBroker(log: (m: string) => void, mtls = false): Promise<Secured> {
  const broker = createLocalBroker({ secure: { mtls }, logger: { info: log, warn: (m) => log(`WARN ${m}`) } });
  await broker.start();
  const security = broker.security!;
  const ca = fs.readFileSync(security.tls.caCert, 'utf8');
  const clientCert = mtls ? { cert: fs.readFileSync(security.tls.clientCert, 'utf8'), key: fs.readFileSync(security.tls.clientKey, 'utf8') } : {};
  const admin = createKafka({
    brokers: broker.brokers,
    clientId: 'security-admin',
    logLevel: 'nothing',
    ssl: { ca: [ca], ...clientCert },
    sasl: { mechanism: 'scram-sha-512', username: security.admin.username, password: security.admin.password },
  });
  return { broker, security, admin, serviceEnv: parseEnvFile(envFileText(security, broker.brokers)) };
}

/** What `source`-ing the env file gives a shell (values are unquoted or single-quoted). */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n').filter(Boolean)) {
    const at = line.indexOf('=');
    const raw = line.slice(at + 1);
    env[line.slice(0, at)] = raw.startsWith("'") ? raw.slice(1, -1).replace(/'\\''/g, "'") : raw;
  }
  return env;
}

/** A topic made by the admin, deleted when the test ends. */
export async function adminTopic(t: TestContext, admin: KafkaClient, prefix: string, partitions = 1): Promise<string> {
  const topic = uniqueName(prefix);
  await ensureTopics(admin, [{ topic, partitions }]);
  t.after(() => deleteTopics(admin, [topic]).catch((err: unknown) => t.diagnostic(`could not delete ${topic}: ${String(err)}`)));
  return topic;
}

/** Runs `livetag ...` to its end, with a deadline; returns exit code, output and how long it took. */
export function runLivetag(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<{ code: number | null; output: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/livetag.js'), ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - t0 });
    });
  });
}
