/**
 * `npm test`: runs every test/**\/*.test.ts with node:test, against ONE local
 * Kafka broker started for the whole run (unless KAFKA_BROKERS names an
 * existing cluster, or only unit tests are selected).
 *
 *   node --import tsx scripts/run-tests.ts [--unit] [--test-* options] [paths...]
 *
 * Node 20's `--test` does not expand globs over .ts files, so the files are
 * collected here and passed explicitly.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalBroker, isClasspathCached, type LocalBroker } from '../src/dev/local-broker.ts';
import { ensureNode24 } from './ensure-node24.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TEST_DIR = path.join(ROOT, 'test');
const INTEGRATION_DIR = path.join(TEST_DIR, 'integration');

function collect(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const stat = fs.statSync(dir);
  if (stat.isFile()) return dir.endsWith('.test.ts') ? [dir] : [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.name !== 'node_modules' && !e.name.startsWith('.'))
    .flatMap((e) => collect(path.join(dir, e.name)))
    .sort();
}

function log(message: string): void {
  process.stderr.write(`[run-tests] ${message}\n`);
}

async function main(argv: string[]): Promise<number> {
  const unitOnly = argv.includes('--unit');
  const passThrough = argv.filter((a) => a.startsWith('--') && a !== '--unit');
  const paths = argv.filter((a) => !a.startsWith('--'));

  let files = paths.length > 0 ? paths.flatMap((p) => collect(path.resolve(p))) : collect(TEST_DIR);
  if (unitOnly) files = files.filter((f) => !f.startsWith(INTEGRATION_DIR + path.sep));
  if (files.length === 0) {
    log('no test files found');
    return paths.length > 0 ? 1 : 0;
  }
  const needsKafka = files.some((f) => f.startsWith(INTEGRATION_DIR + path.sep));

  const state: RunState = {};
  // Installed before the broker starts: a ^C during a cold start (a minute of
  // Maven) must cancel it, and one during the tests must still stop the broker.
  // The terminal sends ^C to the test runner too; we outlive it to clean up.
  const onSignal = (signal: NodeJS.Signals) => {
    state.interrupted = signal;
    if (state.child) state.child.kill(signal);
    else void state.broker?.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run(files, passThrough, needsKafka, state);
  } finally {
    await state.broker?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

type RunState = { broker?: LocalBroker; child?: ChildProcess; interrupted?: NodeJS.Signals };

async function run(files: string[], passThrough: string[], needsKafka: boolean, state: RunState): Promise<number> {
  const env = { ...process.env };
  if (needsKafka && process.env.KAFKA_BROKERS) {
    log(`integration tests use KAFKA_BROKERS=${process.env.KAFKA_BROKERS}`);
  } else if (needsKafka) {
    const cold = !isClasspathCached();
    const broker = createLocalBroker({
      logger: { info: (m) => log(`kafka: ${m}`), warn: (m) => log(`kafka: WARN ${m}`) },
      onUnexpectedExit: (reason) => log(`kafka: the shared broker died during the run: ${reason}`),
    });
    state.broker = broker;
    const t0 = Date.now();
    try {
      await broker.start();
    } catch (err) {
      if (state.interrupted) return exitCodeFor(state.interrupted);
      log(`cannot start the local Kafka broker: ${err instanceof Error ? err.message : String(err)}`);
      log('install Java 17+ and Maven, or set KAFKA_BROKERS=host:port to use an existing cluster');
      return 1;
    }
    if (state.interrupted) return exitCodeFor(state.interrupted);
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    log(`Kafka ${broker.version} ${cold ? 'cold start (Maven resolve included)' : 'warm start'}: ${seconds} s, KAFKA_BROKERS=${broker.brokers}`);
    env.KAFKA_BROKERS = broker.brokers;
  }

  const args = ['--import', 'tsx', '--test'];
  if (!passThrough.some((a) => a.startsWith('--test-reporter'))) args.push('--test-reporter=spec');
  args.push(...passThrough, ...files);

  const t0 = Date.now();
  const child = spawn(process.execPath, args, { stdio: 'inherit', env, cwd: ROOT });
  state.child = child;
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.once('exit', (c, s) => resolve([c, s]));
    child.once('error', (err) => {
      log(`cannot run node --test: ${err.message}`);
      resolve([1, null]);
    });
  });
  log(`tests finished in ${((Date.now() - t0) / 1000).toFixed(1)} s (${signal ?? `exit ${code}`})`);
  if (state.interrupted) return exitCodeFor(state.interrupted);
  return code ?? 1;
}

function exitCodeFor(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : 143;
}

/**
 * CI (CI=true) runs the unit tests a second time on Node 24 (scripts/ensure-node24.ts)
 * after a green run on the machine's own Node, so both supported lines are
 * tested while .ci/run only calls `npm test`.
 */
function alsoOnNode24(argv: string[]): number {
  if (process.env.CI !== 'true' || process.env.LIVETAG_TESTS_ON_NODE24 === '1' || process.versions.node.startsWith('24.')) return 0;
  const bin = ensureNode24(log);
  log(`CI: the unit tests again on Node 24 (${bin})`);
  const r = spawnSync(bin, ['--import', 'tsx', fileURLToPath(import.meta.url), '--unit', ...argv.filter((a) => a !== '--unit')], { stdio: 'inherit', env: { ...process.env, LIVETAG_TESTS_ON_NODE24: '1' } });
  return r.status ?? 1;
}

const status = await main(process.argv.slice(2));
process.exitCode = status === 0 ? alsoOnNode24(process.argv.slice(2)) : status;
