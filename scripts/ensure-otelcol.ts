/**
 * An OpenTelemetry Collector for the tracing test: the OTLP receiver and the
 * debug exporter, built from the collector's core Go modules (scripts/otelcol)
 * once into the git-ignored .cache/otelcol/, keyed by the sources' hash, as
 * scripts/ensure-helm.ts builds helm. A cold Go module cache costs minutes
 * (about 9 on a busy 2-core machine); later builds reuse Go's caches.
 *
 *   node --import tsx scripts/ensure-otelcol.ts     # build if needed, print the path
 *
 * Go missing is reported as GoMissingError (the test skips, saying so).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GoMissingError, REPO_ROOT, checkGo, runCommand } from './ensure-helm.ts';

const SRC = path.join(REPO_ROOT, 'scripts', 'otelcol');
const CACHE_DIR = process.env.LIVETAG_OTELCOL_CACHE ?? path.join(REPO_ROOT, '.cache', 'otelcol');

export { GoMissingError };

/** Path of the collector binary, built when the cache has none for these sources. */
export async function ensureOtelcol(log: (m: string) => void = (m) => process.stderr.write(`[ensure-otelcol] ${m}\n`)): Promise<string> {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(f).update(fs.readFileSync(path.join(SRC, f)));
  const bin = path.join(CACHE_DIR, `otelcol-${hash.digest('hex').slice(0, 12)}`);
  if (fs.existsSync(bin)) return bin;
  await checkGo();
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  log('building the OpenTelemetry Collector (OTLP receiver, debug exporter) with go build (one-time; minutes on a cold Go cache)');
  const started = Date.now();
  const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: [process.env.GOFLAGS, '-modcacherw'].filter(Boolean).join(' ') };
  const r = await runCommand('go', ['build', '-trimpath', '-o', tmp, '.'], { cwd: SRC, env });
  if (r.code !== 0) throw new Error(`go build scripts/otelcol failed (exit ${r.code}):\n${r.stderr.split('\n').slice(-40).join('\n')}`);
  fs.renameSync(tmp, bin);
  log(`built ${bin} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return bin;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  ensureOtelcol().then(
    (bin) => process.stdout.write(`${bin}\n`),
    (err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    },
  );
}
