/**
 * Where `livetag serve` spends CPU outside the model (issue 19): a backlog
 * drained through a real broker, twice — once plain (CPU per message from
 * /proc, split by thread), once under `node --cpu-prof` (µs per message per
 * serving stage on the main thread, and a flame graph).
 *
 *   node --import tsx bench/serve-profile.ts --label after [--model default|default-plain|base] [--count 20000]
 *
 * default is models/default as shipped (its wide n-gram branch included: the
 * service a user runs); default-plain its BERT alone, as the suite measures it.
 *
 * Appends its run to bench/results/serve-profile.json (so "before" and
 * "after" sit side by side), rewrites serve-profile.md and docs/serve-flame.svg.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { drainWindow, flameSvg, readProfile, stageTimes, topFrames } from './lib/cpu-profile.ts';
import { benchModel } from './lib/models.ts';
import { plainBertBundle } from './lib/plain-bundle.ts';
import { createServeHarness, mainAboveIdleUsPerMsg, steadyMainUsPerMsg } from './lib/serve-harness.ts';
import { f } from './lib/suite-report.ts';
import { REPO_ROOT, liveComments } from './lib/texts.ts';

const { values } = parseArgs({
  options: {
    label: { type: 'string', default: 'run' },
    model: { type: 'string', default: 'default' },
    count: { type: 'string', default: '20000' },
    variant: { type: 'string', default: 'base' },
    client: { type: 'string', default: 'kafkajs' },
  },
});
const count = Number(values.count);
const log = (m: string): void => void process.stderr.write(`[profile ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const { texts, source } = liveComments();
const bundle =
  values.model === 'default' ? resolve(REPO_ROOT, 'models/default') : values.model === 'default-plain' ? await plainBertBundle(resolve(REPO_ROOT, 'models/default'), resolve(REPO_ROOT, '.cache/models')) : await benchModel('base');
const harness = await createServeHarness({ texts, partitions: 3, threads: 0, log });
const env = { LIVETAG_MODEL_VARIANT: values.variant, LIVETAG_KAFKA_CLIENT: values.client };
const load0 = loadavg()[0];
const dir = mkdtempSync(join(tmpdir(), 'livetag-prof-'));

/** Threads of the serve process: the main thread is named after the process; onnxruntime's and libuv's have their own names. */
function splitThreads(threads: Record<string, number>, received: number): Record<string, number> {
  const us = (s: number): number => (s / received) * 1e6;
  const entries = Object.entries(threads).map(([k, v]): [string, number] => [k, us(v)]);
  return Object.fromEntries(entries.sort((a, b) => b[1] - a[1]));
}

try {
  log(`warm-up drain (the broker's JIT), then a plain drain of ${count}`);
  await harness.serveRun('livetag', bundle, Math.min(count, 2000), { env });
  const plain = await harness.serveRun('livetag', bundle, count, { env });
  log(`plain: ${f(plain.msgsPerSecond)} msgs/s, ${f((plain.usage.cpuSeconds / plain.received) * 1e6, 0)} µs CPU per message`);
  log('idle: the same service with nothing to read, 15 s');
  const idle = await harness.idleRun(bundle, 15, { env });
  const profiled = await harness.serveRun('livetag', bundle, count, { env, execArgv: ['--cpu-prof', '--cpu-prof-dir', dir] });
  const files = readdirSync(dir).filter((n) => n.endsWith('.cpuprofile'));
  // The main thread's profile is the one with kafkajs in it; the worker's holds the onnxruntime call.
  const profiles = files.map((n) => ({ n, p: readProfile(join(dir, n)) }));
  const found = profiles.find(({ p }) => p.nodes.some((x) => x.callFrame.url.endsWith('/stages/classify.ts')));
  if (!found) throw new Error(`no main-thread profile among ${files.join(', ')}`);
  const main = { n: found.n, p: drainWindow(found.p) };
  // Kept (ignored by git) for a closer look: chrome://inspect or speedscope open it.
  mkdirSync(resolve(REPO_ROOT, '.cache/bench'), { recursive: true });
  copyFileSync(join(dir, main.n), resolve(REPO_ROOT, `.cache/bench/serve-${values.label}.cpuprofile`));
  const stages = stageTimes(main.p);
  const perMsg: Record<string, number> = Object.fromEntries(
    Object.entries(stages)
      .filter(([k]) => k !== 'idle')
      .map(([k, v]): [string, number] => [k, v / profiled.received])
      .sort((a, b) => b[1] - a[1]),
  );
  const mainBusy = Object.values(perMsg).reduce((a, b) => a + b, 0);
  const worker = profiles.find((x) => x !== found);
  const run = {
    label: values.label,
    at: new Date().toISOString(),
    model: values.model,
    client: values.client,
    variant: values.variant,
    texts: source,
    count,
    loadAverage: { atStart: load0, atEnd: loadavg()[0] },
    plain: { msgsPerSecond: plain.msgsPerSecond, cpuUsPerMsg: (plain.usage.cpuSeconds / plain.received) * 1e6, threadsUsPerMsg: splitThreads(plain.usage.threads ?? {}, plain.received), model: plain.model, mainAboveIdleUsPerMsg: mainAboveIdleUsPerMsg(plain, idle.main ?? 0), ...(plain.steady ? { steadyMainUsPerMsg: steadyMainUsPerMsg(plain) } : {}) },
    idle: { threadsMsPerSecond: Object.fromEntries(Object.entries(idle).map(([t, v]) => [t, v * 1000])) },
    profiled: { msgsPerSecond: profiled.msgsPerSecond, mainThreadUsPerMsg: mainBusy, stageUsPerMsg: perMsg, topFrames: topFrames(main.p).map((t) => ({ ...t, usPerMsg: t.us / profiled.received })),
      workerStageUsPerMsg: worker ? Object.fromEntries(Object.entries(stageTimes(worker.p)).filter(([k]) => k !== 'idle').map(([k, v]) => [k, v / profiled.received])) : undefined },
  };
  const jsonPath = resolve(REPO_ROOT, 'bench/results/serve-profile.json');
  const runs: ProfileRun[] = existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as { runs: ProfileRun[] }).runs : [];
  runs.push(run);
  writeFileSync(jsonPath, JSON.stringify({ bench: 'serve-profile', runs }, null, 2) + '\n');
  writeFileSync(resolve(REPO_ROOT, 'bench/results/serve-profile.md'), render(runs));
  // One picture per model: the docs show the default model's; another model's run must not replace it.
  writeFileSync(resolve(REPO_ROOT, `docs/serve-flame${values.label === 'before' ? '-before' : ''}${values.model === 'default' ? '' : `-${values.model}`}.svg`), flameSvg(main.p, `livetag serve main thread, ${values.model} model, ${count}-message backlog (${values.label}; the drain only, idle left out)`));
  process.stdout.write(render([run]));
} finally {
  rmSync(dir, { recursive: true, force: true });
  await harness.stop();
}

interface ProfileRun {
  label: string;
  at: string;
  model: string;
  client?: string;
  count: number;
  loadAverage: { atStart: number; atEnd: number };
  plain: { msgsPerSecond: number; cpuUsPerMsg: number; threadsUsPerMsg: Record<string, number>; mainAboveIdleUsPerMsg?: number; steadyMainUsPerMsg?: number };
  /** Runs since 2026-12-06: the service with nothing to read. */
  idle?: { threadsMsPerSecond: Record<string, number> };
  profiled: { msgsPerSecond: number; mainThreadUsPerMsg: number; stageUsPerMsg: Record<string, number> };
}

function render(runs: readonly ProfileRun[]): string {
  const L = ['# livetag serve: CPU per message by stage', '', 'Regenerate: `node --import tsx bench/serve-profile.ts --label NAME` (appends a run). µs of CPU per message; main-thread stages from `node --cpu-prof` samples (a sample goes to the innermost frame a stage owns; since the run labelled after-2, cut to the drain: startup and shutdown left out), threads from /proc (main = the main thread).', ''];
  const stages = [...new Set(runs.flatMap((r) => Object.keys(r.profiled.stageUsPerMsg)))];
  L.push(`| | ${runs.map((r) => `${r.label} (${r.model}, ${r.client ?? 'kafkajs'}, ${r.at.slice(0, 16)})`).join(' | ')} |`, `|---|${runs.map(() => '---:').join('|')}|`);
  L.push(`| load average at start / end | ${runs.map((r) => `${f(r.loadAverage.atStart, 2)} / ${f(r.loadAverage.atEnd, 2)}`).join(' | ')} |`);
  L.push(`| drain msgs/s (plain / profiled) | ${runs.map((r) => `${f(r.plain.msgsPerSecond, 0)} / ${f(r.profiled.msgsPerSecond, 0)}`).join(' | ')} |`);
  L.push(`| process CPU µs/msg, all threads (plain) | ${runs.map((r) => f(r.plain.cpuUsPerMsg, 0)).join(' | ')} |`);
  L.push(`| main thread busy µs/msg (profiled) | ${runs.map((r) => `**${f(r.profiled.mainThreadUsPerMsg, 1)}**`).join(' | ')} |`);
  for (const s of stages) L.push(`| · ${s} | ${runs.map((r) => f(r.profiled.stageUsPerMsg[s], 1)).join(' | ')} |`);
  const threads = [...new Set(runs.flatMap((r) => Object.keys(r.plain.threadsUsPerMsg)))];
  for (const t of threads) L.push(`| thread ${t} (plain) | ${runs.map((r) => f(r.plain.threadsUsPerMsg[t], 1)).join(' | ')} |`);
  L.push(`| main thread with nothing to read, ms CPU per s | ${runs.map((r) => f(r.idle?.threadsMsPerSecond.main, 1)).join(' | ')} |`);
  L.push(`| main thread above that floor, µs/msg (plain) | ${runs.map((r) => f(r.plain.mainAboveIdleUsPerMsg, 1)).join(' | ')} |`);
  L.push(`| main thread past the drain's first quarter, µs/msg (plain) | ${runs.map((r) => f(r.plain.steadyMainUsPerMsg, 1)).join(' | ')} |`);
  return L.join('\n') + '\n';
}
