/**
 * postinstall: builds the optional dependency @confluentinc/kafka-javascript
 * (librdkafka, for LIVETAG_KAFKA_CLIENT=confluent) from source when npm could
 * not install it, and never fails the install.
 *
 * Why a script: the package's own install script is
 * `node-pre-gyp install --fallback-to-build`. Its prebuilt binary comes from
 * GitHub releases, and its fallback source build links librdkafka statically
 * after `./configure --install-deps --source-deps-only`, which downloads
 * OpenSSL, zlib, zstd, curl... sources from GitHub too (util/configure.js).
 * Where GitHub is out of reach both fail, and npm drops the optional package.
 * With CKJS_LINKING=dynamic in the environment the same build configures
 * librdkafka against the system's libraries instead and needs no download.
 * Only the real environment variable works: util/get-env.js and
 * util/configure.js read process.env.CKJS_LINKING, and npm exports .npmrc
 * keys only as lower-case npm_config_* variables. So this script sets it and
 * asks npm to build the package again (install it when npm dropped it,
 * rebuild it when it is there but does not load).
 *
 * Skipped when it loads already (a prebuilt binary was reachable, or an
 * earlier build), when optional dependencies are omitted, on Windows, or
 * with LIVETAG_SKIP_CONFLUENT_BUILD=1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMPRESSIONS } from '../src/kafka/port.ts';

const PKG = '@confluentinc/kafka-javascript';
const root = fileURLToPath(new URL('..', import.meta.url));

function say(message: string): void {
  process.stderr.write(`livetag postinstall: ${message}\n`);
}

/** Why the package does not load here, or null when it does (checked in a child: a bad binary may abort). */
function loadProblem(): string | null {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(PKG)})`], { cwd: root, encoding: 'utf8' });
  if (r.status === 0) return null;
  const lines = `${r.stderr ?? ''}`.split('\n').map((l) => l.trim());
  return lines.find((l) => /^(Error|.*Error:)/.test(l)) ?? lines.find((l) => l !== '') ?? `exit ${r.status ?? r.signal}`;
}

/**
 * Codecs librdkafka links from the system: a consumer must read every codec
 * real producers write (Java and librdkafka producers often use zstd), so a
 * build without one is rebuilt once the headers are there.
 */
const CODEC_FEATURES = COMPRESSIONS.filter((c) => c !== 'none');
const CODEC_HEADERS: Record<string, { header: string; pkg: string }> = {
  zstd: { header: '/usr/include/zstd.h', pkg: 'libzstd-dev' },
  lz4: { header: '/usr/include/lz4.h', pkg: 'liblz4-dev' },
  gzip: { header: '/usr/include/zlib.h', pkg: 'zlib1g-dev' },
};

/** Codecs the loaded build lacks (checked in a child, as loadProblem). */
function missingCodecs(): string[] {
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(PKG)}).features.join(','))`], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) return [];
  const features = new Set((r.stdout ?? '').split(','));
  return CODEC_FEATURES.filter((f) => !features.has(f));
}

/**
 * Debian's -dev packages for the codecs whose headers are missing, installed
 * with apt-get where this process may (root, apt-get present), as
 * scripts/ensure-chromium.ts does; otherwise the build goes on without them
 * and says which to install. Returns the packages still missing.
 */
function ensureCodecHeaders(): string[] {
  const wanted = Object.values(CODEC_HEADERS).filter((c) => !existsSync(c.header)).map((c) => c.pkg);
  if (wanted.length === 0 || process.platform !== 'linux' || process.getuid?.() !== 0) return wanted;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...wanted], { env, encoding: 'utf8' });
  let r = install();
  if (r.error) return wanted;
  if (r.status !== 0 && /Unable to locate|has no installation candidate/.test(`${r.stdout}${r.stderr}`)) {
    spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
    r = install();
  }
  const still = Object.values(CODEC_HEADERS).filter((c) => !existsSync(c.header)).map((c) => c.pkg);
  say(still.length === 0 ? `installed ${wanted.join(' ')} with apt-get for the codecs` : `apt-get install ${wanted.join(' ')} failed (exit ${r.status}); building without them`);
  return still;
}

/** Why the package is not usable here (does not load, or loads without a codec), or null. */
function usableProblem(): { readonly reason: string; readonly loads: boolean } | null {
  const problem = loadProblem();
  if (problem !== null) return { reason: problem, loads: false };
  const lacking = missingCodecs();
  return lacking.length === 0 ? null : { reason: `its librdkafka lacks ${lacking.join(', ')}`, loads: true };
}

function skipReason(): string | undefined {
  if (process.env.LIVETAG_SKIP_CONFLUENT_BUILD === '1') return 'LIVETAG_SKIP_CONFLUENT_BUILD=1';
  if (process.env.LIVETAG_CONFLUENT_BUILD === 'running') return 'already building';
  const omit = (process.env.npm_config_omit ?? '').split(/[\s,]+/);
  if (omit.includes('optional') || process.env.npm_config_optional === 'false') return 'optional dependencies are omitted';
  if (process.platform === 'win32') return 'CKJS_LINKING=dynamic builds are not supported on Windows';
  return undefined;
}

function main(): void {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { optionalDependencies?: Record<string, string> };
  const version = pkg.optionalDependencies?.[PKG];
  if (!version) return;
  const before = usableProblem();
  if (before === null) return;
  const skip = skipReason();
  if (skip) {
    say(`${PKG} is not usable (${before.reason}); not building it: ${skip}. LIVETAG_KAFKA_CLIENT=kafkajs (the default) is unaffected.`);
    return;
  }
  const stillMissing = ensureCodecHeaders();
  if (stillMissing.length > 0 && before.loads) {
    say(`${PKG} loads but ${before.reason}; install ${stillMissing.join(' ')} and run npm rebuild ${PKG}. LIVETAG_KAFKA_CLIENT=kafkajs (the default) is unaffected.`);
    return;
  }
  const present = existsSync(path.join(root, 'node_modules', PKG, 'package.json'));
  const logDir = path.join(root, 'node_modules', '.cache', 'livetag');
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, 'confluent-kafka-build.log');
  say(`${PKG}@${version} is not usable as installed (${before.reason}); building it from source against the system's libraries (CKJS_LINKING=dynamic, a few minutes; log: ${path.relative(root, logFile)})`);

  const env: NodeJS.ProcessEnv = { ...process.env, CKJS_LINKING: 'dynamic', LIVETAG_CONFLUENT_BUILD: 'running' };
  // A parallel top-level make races the package's generated Makefile
  // (librdkafka's own make already runs with -j).
  delete env.JOBS;
  delete env.npm_config_jobs;
  const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
  // npm dropped the package when its own install failed: install it again
  // (not into package.json or the lock file, which list it already).
  const args = present
    ? // node-pre-gyp keeps a binary that is there unless told to compile.
      ['rebuild', PKG, '--foreground-scripts', '--build-from-source']
    : ['install', '--no-save', '--no-audit', '--no-fund', '--foreground-scripts', `${PKG}@${version}`];
  const t0 = Date.now();
  const fd = openSync(logFile, 'w');
  try {
    spawnSync(npm[0], [...npm.slice(1), ...args], { cwd: root, env, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const seconds = Math.round((Date.now() - t0) / 1000);
  const after = usableProblem();
  if (after === null) {
    say(`${PKG} built and loads (${seconds} s); LIVETAG_KAFKA_CLIENT=confluent is available.`);
    return;
  }
  // npm rebuilds other dropped optional packages too: show this package's part of the log.
  let section = readFileSync(logFile, 'utf8');
  const start = section.lastIndexOf(`> ${PKG}@`);
  if (start >= 0) section = section.slice(start);
  // Up to the next script header npm prints, `> name@version event`.
  const next = /\n> (?:@[\w.-]+\/)?[\w.-]+@\S+ [\w:-]+\n/.exec(section.slice(1));
  if (start >= 0 && next) section = section.slice(0, next.index + 1);
  const lines = section.trim().split('\n');
  // Compiler, make and configure failures; else the end of the log.
  const causes = lines.filter((l) => /\*\*\*|\berror:|fatal error|action: fail|Failed to install/i.test(l)).slice(0, 10);
  const tail = (causes.length > 0 ? causes : lines.slice(-15)).join('\n');
  say(
    `could not build ${PKG} (${seconds} s): ${after.reason}\n${tail}\n` +
      'It needs a C/C++ toolchain, make and python3, and for TLS and SASL the OpenSSL and SASL headers ' +
      '(Debian: build-essential python3 libssl-dev libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev). ' +
      'LIVETAG_KAFKA_CLIENT=kafkajs (the default) is unaffected; see docs/kafka.md.',
  );
}

try {
  main();
} catch (err) {
  say(`skipped the ${PKG} build: ${(err as Error).message}`);
}
