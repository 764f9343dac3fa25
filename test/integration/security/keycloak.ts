/**
 * A real OIDC server for the token tests: Keycloak's distribution from Maven
 * Central (org.keycloak:keycloak-quarkus-dist, resolved with strict
 * checksums into the git-ignored .cache/keycloak), started in dev mode on
 * free loopback ports with one confidential client that may use the
 * client-credentials grant, as a Kafka service account would.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DEPENDENCY_PLUGIN, mavenBinary } from '../../../src/dev/broker-classpath.ts';
import { freePort } from '../../../src/dev/broker-config.ts';
import { REPO_ROOT } from '../../helpers/shared.ts';

export const KEYCLOAK_VERSION = '26.7.3';
const ADMIN = { username: 'admin', password: 'admin-for-tests' };

export type Keycloak = { readonly tokenUrl: string; readonly clientId: string; readonly clientSecret: string; readonly startedInMs: number; stop(): Promise<void> };

/** The unpacked distribution, resolved once per cache; a string says why it could not be. */
function distribution(): string {
  const cache = path.join(process.env.LIVETAG_KEYCLOAK_CACHE ?? path.join(REPO_ROOT, '.cache', 'keycloak'), KEYCLOAK_VERSION);
  const home = path.join(cache, `keycloak-${KEYCLOAK_VERSION}`);
  if (fs.existsSync(path.join(home, 'bin', 'kc.sh'))) return home;
  fs.mkdirSync(cache, { recursive: true });
  const artifact = `org.keycloak:keycloak-quarkus-dist:${KEYCLOAK_VERSION}:zip`;
  const mvn = spawnSync(mavenBinary(), ['-q', '-B', '--strict-checksums', `${DEPENDENCY_PLUGIN}:copy`, `-Dartifact=${artifact}`, `-DoutputDirectory=${cache}`], { encoding: 'utf8', timeout: 600_000 });
  const zip = path.join(cache, `keycloak-quarkus-dist-${KEYCLOAK_VERSION}.zip`);
  if (mvn.status !== 0 || !fs.existsSync(zip)) throw new Error(`Maven could not resolve ${artifact}: ${(mvn.stderr || mvn.stdout || String(mvn.error)).slice(-400)}`);
  // The JDK's jar tool unpacks zips wherever Maven runs, unzip or not.
  const unpack = spawnSync('jar', ['xf', zip], { cwd: cache, encoding: 'utf8' });
  if (unpack.status !== 0) throw new Error(`cannot unpack ${zip}: ${unpack.stderr || String(unpack.error)}`);
  fs.chmodSync(path.join(home, 'bin', 'kc.sh'), 0o755);
  fs.rmSync(zip);
  return home;
}

async function until(what: string, ms: number, probe: () => Promise<boolean>, died: () => string | undefined): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const why = died();
    if (why) throw new Error(`${what}: ${why}`);
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

/** Starts Keycloak and registers the client; throws with the reason (and the server's last log lines) if it cannot. */
export async function startKeycloak(): Promise<Keycloak> {
  const t0 = Date.now();
  const home = distribution();
  // Dev mode keeps its database in the distribution: a fresh one per start, or a warm cache finds last run's client and admin.
  fs.rmSync(path.join(home, 'data'), { recursive: true, force: true });
  const [port, management] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${port}`;
  const logs: string[] = [];
  const server: ChildProcess = spawn(path.join(home, 'bin', 'kc.sh'), ['start-dev', `--http-port=${port}`, '--http-host=127.0.0.1', `--http-management-port=${management}`], {
    env: { ...process.env, KC_BOOTSTRAP_ADMIN_USERNAME: ADMIN.username, KC_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: kc.sh runs java as a child, and stop() ends both.
    detached: true,
  });
  const keep = (b: Buffer) => void logs.push(...b.toString('utf8').split('\n').filter(Boolean));
  server.stdout!.on('data', keep);
  server.stderr!.on('data', keep);
  const stop = async (): Promise<void> => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((r) => server.once('exit', r));
    process.kill(-server.pid!, 'SIGTERM');
    const timer = setTimeout(() => process.kill(-server.pid!, 'SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const died = () => (server.exitCode !== null ? `Keycloak exited with ${server.exitCode}: ${logs.slice(-8).join(' | ')}` : undefined);
    await until('Keycloak start', 240_000, async () => (await fetch(`${base}/realms/master/.well-known/openid-configuration`)).ok, died);
    const admin = await fetch(`${base}/realms/master/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', ...ADMIN }),
    });
    if (!admin.ok) throw new Error(`admin login: HTTP ${admin.status}`);
    const { access_token } = (await admin.json()) as { access_token: string };
    const client = { clientId: 'livetag', clientSecret: 'livetag-secret-for-tests' };
    const created = await fetch(`${base}/admin/realms/master/clients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ clientId: client.clientId, secret: client.clientSecret, publicClient: false, serviceAccountsEnabled: true, standardFlowEnabled: false, clientAuthenticatorType: 'client-secret' }),
    });
    if (created.status !== 201) throw new Error(`client registration: HTTP ${created.status} ${await created.text()}`);
    return { tokenUrl: `${base}/realms/master/protocol/openid-connect/token`, ...client, startedInMs: Date.now() - t0, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
