/**
 * Headless Chromium for the console's browser tests and render benchmark:
 * Debian's `chromium` package, installed with apt-get where it is missing and
 * this process may (root, apt-get present), as scripts/ensure-helm.ts builds
 * helm. $LIVETAG_CHROMIUM names another binary. Where none can be had,
 * ChromiumUnavailableError says why, and the tests skip with that reason.
 *
 *   node --import tsx scripts/ensure-chromium.ts     # install if needed, print the path
 *
 * fonts-noto-cjk comes along: without a CJK font the page's Chinese renders as boxes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from './ensure-helm.ts';

export const CHROMIUM_PACKAGES = ['chromium', 'fonts-noto-cjk', 'fonts-noto-color-emoji'] as const;
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const LOCK = path.join(fileURLToPath(new URL('..', import.meta.url)), '.cache', 'chromium-apt.lock');

export class ChromiumUnavailableError extends Error {}

type Log = (message: string) => void;
const defaultLog: Log = (m) => process.stderr.write(`[ensure-chromium] ${m}\n`);

async function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  const r = await runCommand(cmd, args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return { code: r.code, output: r.stdout + r.stderr };
}

function found(): string | undefined {
  const env = process.env.LIVETAG_CHROMIUM;
  if (env) {
    if (!fs.existsSync(env)) throw new ChromiumUnavailableError(`LIVETAG_CHROMIUM=${env} does not exist`);
    return env;
  }
  return CANDIDATES.find((p) => fs.existsSync(p));
}

/** One apt-get at a time across test processes (dpkg's own lock would fail the second outright). */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(path.dirname(LOCK), { recursive: true });
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - fs.statSync(LOCK).mtimeMs;
      if (age > 15 * 60_000) fs.rmSync(LOCK, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new ChromiumUnavailableError(`${LOCK} held for 15 minutes`);
      else await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}

let pending: Promise<string> | undefined;

/** The Chromium binary, installed with apt-get when missing and possible. */
export function ensureChromium(log: Log = defaultLog): Promise<string> {
  pending ??= (async () => {
    const existing = found();
    if (existing) return existing;
    if (process.platform !== 'linux') throw new ChromiumUnavailableError(`no Chromium at ${CANDIDATES.join(' or ')} and no apt-get on ${process.platform}; set LIVETAG_CHROMIUM`);
    if (process.getuid?.() !== 0) throw new ChromiumUnavailableError(`no Chromium at ${CANDIDATES.join(' or ')}, and installing it with apt-get needs root: apt-get install ${CHROMIUM_PACKAGES.join(' ')}`);
    return withLock(async () => {
      const again = found();
      if (again) return again;
      log(`installing ${CHROMIUM_PACKAGES.join(' ')} with apt-get (one-time)`);
      let r;
      try {
        r = await run('apt-get', ['install', '-y', '--no-install-recommends', ...CHROMIUM_PACKAGES]);
        if (r.code !== 0 && /Unable to locate|has no installation candidate/.test(r.output)) {
          await run('apt-get', ['update']);
          r = await run('apt-get', ['install', '-y', '--no-install-recommends', ...CHROMIUM_PACKAGES]);
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ChromiumUnavailableError('no Chromium and no apt-get to install it (not Debian?); set LIVETAG_CHROMIUM');
        throw err;
      }
      const bin = found();
      if (r.code !== 0 || !bin) throw new ChromiumUnavailableError(`apt-get install ${CHROMIUM_PACKAGES.join(' ')} failed (exit ${r.code}):\n${r.output.split('\n').slice(-15).join('\n')}`);
      log(`installed: ${bin}`);
      return bin;
    });
  })();
  return pending;
}

/** The binary, or the reason a test should skip. */
export async function chromiumOrSkip(): Promise<{ path?: string; skip?: string }> {
  try {
    return { path: await ensureChromium() };
  } catch (err) {
    if (err instanceof ChromiumUnavailableError) return { skip: `headless Chromium unavailable: ${err.message}` };
    throw err;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(`${await ensureChromium()}\n`);
  } catch (err) {
    defaultLog((err as Error).message);
    process.exitCode = 1;
  }
}
