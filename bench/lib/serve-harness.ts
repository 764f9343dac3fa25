/**
 * livetag serve and the naive consumer as their own processes against a real
 * broker: topics, a producer (backlog or paced), a reader of the output that
 * measures end-to-end latency, and /proc CPU of every process involved.
 * Shared by the suite (bench/suite.ts) and the serve profile (bench/serve-profile.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { createKafka, deleteTopics, ensureTopics } from '../../test/helpers/kafkajs.ts';
import { benchBroker } from './broker.ts';
import { threadCpu, watchProcess } from './proc.ts';
import type { ServeResult } from './suite-report.ts';
import { REPO_ROOT, percentile } from './texts.ts';

export interface HarnessOptions {
  readonly texts: readonly string[];
  readonly partitions: number;
  readonly threads: number;
  readonly log: (m: string) => void;
}

function byTenth(inOrder: readonly number[]): number[] {
  const n = inOrder.length;
  return Array.from({ length: 10 }, (_, i) => percentile([...inOrder.slice(Math.floor((i * n) / 10), Math.floor(((i + 1) * n) / 10))].sort((x, y) => x - y), 0.99));
}

function split(before: readonly number[], after: readonly number[], toFetched: readonly number[], fetchedToClassified: readonly number[]) {
  const q = (xs: readonly number[]) => {
    const s = [...xs].sort((x, y) => x - y);
    return { p50: percentile(s, 0.5), p99: percentile(s, 0.99) };
  };
  return { beforeClassified: q(before), afterClassified: q(after), ...(toFetched.length ? { toFetched: q(toFetched), fetchedToClassified: q(fetchedToClassified) } : {}) };
}

/**
 * The output reader's fetch wait. The broker answers a fetch as soon as a
 * record arrives (minBytes 1), so the wait adds no latency; it is how often an
 * empty fetch goes round, each a request the broker on the same two cores
 * serves. 5 ms against 100 ms, alternated, warm broker, 5,400 msgs/s: p99
 * 36, 42, 36 against 33, 35, 29 ms; broker 0.13–0.14 against 0.11–0.12 cores.
 */
const READER_MAX_WAIT_MS = 100;
/**
 * A paced run's first seconds, produced but left out of its latency
 * percentiles (kept apart as the whole run's): each run starts a fresh
 * service, whose first second of batches runs before V8 has compiled its hot
 * paths (p99 of the first tenth of a 10 s run 48–63 ms, of the rest 21–30 ms).
 * A service in production has run for hours; the ladder measures that state.
 */
export const PACED_LEAD_MS = 2_000;
/** A backlog drain's share read back before its steady part begins (ServeResult.steady). */
export const STEADY_FROM_SHARE = 0.25;

/**
 * The main thread's CPU per message above what it spends with no traffic
 * (idleRun's `main`, CPU s per s) over the run's wall time, in µs; NaN where
 * the run lacks the per-thread split or its wall time.
 */
export function mainAboveIdleUsPerMsg(run: ServeResult, idleMain: number): number {
  const main = run.usage.threads?.main ?? NaN;
  return ((main - idleMain * (run.usage.wallSeconds ?? NaN)) / run.received) * 1e6;
}

/** The same over a backlog's steady part (ServeResult.steady); NaN where the run has none. */
export function steadyMainUsPerMsg(run: ServeResult, idleMain = 0): number {
  const s = run.steady;
  return s ? ((s.mainCpuSeconds - idleMain * s.wallSeconds) / s.messages) * 1e6 : NaN;
}

export type ServeHarness = Awaited<ReturnType<typeof createServeHarness>>;

export async function createServeHarness(o: HarnessOptions) {
  const { texts, threads, log } = o;
  const PARTITIONS = o.partitions;
  const broker = await benchBroker();
  const kafka = createKafka({ brokers: broker.brokers, clientId: 'bench-suite', logLevel: 'nothing' });
  const run = Date.now().toString(36);
  const created: string[] = [];
  let topicSeq = 0;

  async function topics(name: string) {
    const t = { input: `suite-${name}-${run}-${topicSeq}-in`, output: `suite-${name}-${run}-${topicSeq}-out`, dlq: `suite-${name}-${run}-${topicSeq++}-dlq` };
    await ensureTopics(kafka, Object.values(t).map((topic) => ({ topic, partitions: PARTITIONS })));
    created.push(...Object.values(t));
    return t;
  }

  async function produce(topic: string, count: number, rate?: number, unique = false): Promise<void> {
    const producer = kafka.producer();
    await producer.connect();
    const start = Date.now();
    const chunk = rate ? Math.max(1, Math.round(rate / 50)) : 500;
    for (let i = 0; i < count; i += chunk) {
      const messages = [];
      for (let j = i; j < Math.min(count, i + chunk); j++) {
        // unique: the comments once each, in their real order (the duplicate-cache run).
        const text = unique ? texts[j % texts.length] : texts[j % texts.length] + (j >= texts.length ? ` #${Math.floor(j / texts.length)}` : '');
        messages.push({ key: `room-${j % 97}`, value: JSON.stringify({ text, id: `m${j}` }) });
      }
      await producer.send({ topic, messages });
      if (rate) {
        const wait = start + ((i + chunk) / rate) * 1000 - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }
    await producer.disconnect();
  }

  function collector(topic: string, count: number, timeoutMs: number, maxWaitMs = READER_MAX_WAIT_MS, mark?: { at: number; fn: (received: number) => void }) {
    // Each latency split where livetag stamped it (classifiedAt, after inference): before = produce,
    // broker, livetag's fetch, queue, batch wait and inference; after = publish and this reader's fetch.
    // livetag's records also carry fetchedAt: the part before classifiedAt splits into Kafka's and livetag's.
    const rows: { readAt: number; producedAt: number; fetchedAt?: number; classifiedAt: number }[] = [];
    const consumer = kafka.consumer({ groupId: `suite-collect-${topic}`, maxWaitTimeInMs: maxWaitMs });
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const ready = (async () => {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          const readAt = Date.now();
          for (const m of batch.messages) {
            const { timing } = JSON.parse(m.value!.toString('utf8')) as { timing: { producedAt: number; fetchedAt?: number; classifiedAt: number } };
            rows.push({ readAt, ...timing });
          }
          if (mark && rows.length >= mark.at) {
            mark.fn(rows.length);
            mark = undefined;
          }
          if (rows.length >= count) done();
        },
      });
    })();
    return {
      ready,
      /**
       * since: when the consumer under test started consuming (a backlog's drain time runs from there).
       * Latencies count the records produced from `since + leadMs` on; `whole` keeps them all.
       */
      async result(since: number, leadMs = 0) {
        const timer = setTimeout(done, timeoutMs);
        await finished;
        clearTimeout(timer);
        await consumer.disconnect();
        const measured = rows.filter((r) => r.producedAt >= since + leadMs);
        const stamped = measured.filter((r) => r.fetchedAt !== undefined);
        return {
          received: rows.length,
          seconds: Math.max(0.001, (rows.reduce((last, r) => Math.max(last, r.readAt), since) - since) / 1000),
          whole: rows.map((r) => r.readAt - r.producedAt),
          latencies: measured.map((r) => r.readAt - r.producedAt),
          before: measured.map((r) => r.classifiedAt - r.producedAt),
          after: measured.map((r) => r.readAt - r.classifiedAt),
          toFetched: stamped.map((r) => r.fetchedAt! - r.producedAt),
          fetchedToClassified: stamped.map((r) => r.classifiedAt - r.fetchedAt!),
        };
      },
    };
  }

  function freePort(): Promise<number> {
    return new Promise((res, rej) => {
      const s = createServer();
      s.once('error', rej);
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => res(port));
      });
    });
  }

  interface Child {
    readonly process: ChildProcess;
    readonly port?: number;
    stop(): Promise<void>;
  }

  async function waitFor(check: () => Promise<boolean>, what: string, child: ChildProcess, stderr: () => string, ms = 180_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${stderr().slice(-2000)}`);
      if (await check().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what} not ready after ${ms} ms: ${stderr().slice(-2000)}`);
  }

  function stopChild(child: ChildProcess): Promise<void> {
    return new Promise((res) => {
      if (child.exitCode !== null) return res();
      const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('exit', () => {
        clearTimeout(kill);
        res();
      });
      child.kill('SIGTERM');
    });
  }

  async function startLivetag(bundle: string, t: Awaited<ReturnType<typeof topics>>, extra: Record<string, string>, execArgv: readonly string[] = []): Promise<Child> {
    const port = await freePort();
    const env = {
      ...process.env,
      LIVETAG_KAFKA_BROKERS: broker.brokers,
      LIVETAG_INPUT_TOPIC: t.input,
      LIVETAG_OUTPUT_TOPIC: t.output,
      LIVETAG_DLQ_TOPIC: t.dlq,
      LIVETAG_GROUP_ID: `suite-${t.input}`,
      LIVETAG_MODEL: bundle,
      LIVETAG_HTTP_HOST: '127.0.0.1',
      LIVETAG_HTTP_PORT: String(port),
      LIVETAG_THREADS: String(threads),
      LIVETAG_LOG_LEVEL: 'warn',
      // The model path is measured with the repeat cache off; its effect has its own run.
      LIVETAG_DEDUPE_CACHE_SIZE: '0',
      ...extra,
    };
    const child = spawn(process.execPath, [...execArgv, resolve(REPO_ROOT, 'bin/livetag.js'), 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 'livetag serve', child, () => err);
    return { process: child, port, stop: () => stopChild(child) };
  }

  async function startNaive(bundle: string, t: Awaited<ReturnType<typeof topics>>): Promise<Child> {
    const env = { ...process.env, NAIVE_BROKERS: broker.brokers, NAIVE_INPUT: t.input, NAIVE_OUTPUT: t.output, NAIVE_GROUP: `suite-${t.input}`, NAIVE_BUNDLE: bundle, NAIVE_THREADS: String(threads) };
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(REPO_ROOT, 'bench/naive-main.ts')], { env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
    await waitFor(async () => out.includes('ready'), 'naive consumer', child, () => err);
    return { process: child, stop: () => stopChild(child) };
  }

  async function metric(port: number | undefined, name: string): Promise<number> {
    if (!port) return NaN;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  }

  /** backlog: the topic is full before the consumer starts (max msgs/s); rate: paced input (latency). */
  async function serveRun(kind: 'livetag' | 'naive', bundle: string, count: number, opts: { rate?: number; env?: Record<string, string>; unique?: boolean; execArgv?: readonly string[]; readerMaxWaitMs?: number } = {}): Promise<ServeResult> {
    const t = await topics(kind);
    if (!opts.rate) await produce(t.input, count, undefined, opts.unique);
    // A backlog's steady part: the main thread's CPU past the first quarter of the drain, whose
    // fresh process compiles its hot paths (kafkajs' encoders, the stages) and then runs V8's
    // post-start-up collections, costs a service that has run for hours paid long ago.
    let steadyFrom: { received: number; threads: Record<string, number>; at: number } | undefined;
    let pid = 0;
    const mark = opts.rate ? undefined : { at: Math.ceil(count * STEADY_FROM_SHARE), fn: (received: number) => void (steadyFrom = { received, threads: threadCpu(pid), at: performance.now() }) };
    const col = collector(t.output, count, Math.max(120_000, (count / (opts.rate ?? 5)) * 3000), opts.readerMaxWaitMs, mark);
    await col.ready;
    const child = kind === 'livetag' ? await startLivetag(bundle, t, opts.env ?? {}, opts.execArgv) : await startNaive(bundle, t);
    pid = child.process.pid!;
    // Ready means the model is loaded and the group joined: consumption starts now.
    const since = Date.now();
    const brokerPid = broker.pid();
    const watches = { child: watchProcess(child.process.pid!), broker: brokerPid ? watchProcess(brokerPid) : undefined };
    const self0 = process.cpuUsage();
    const wall0 = performance.now();
    if (opts.rate) await produce(t.input, count, opts.rate);
    const r = await col.result(since, opts.rate ? PACED_LEAD_MS : 0);
    const wall = (performance.now() - wall0) / 1000;
    const self = process.cpuUsage(self0);
    const threadsAtEnd = threadCpu(pid);
    const endAt = performance.now();
    const c = watches.child.stop();
    const b = watches.broker?.stop();
    const cache = kind === 'livetag' ? { lookups: await metric(child.port, 'livetag_dedupe_cache_lookups_total'), hits: await metric(child.port, 'livetag_dedupe_cache_hits_total') } : undefined;
    const model =
      kind === 'livetag'
        ? {
            inferenceSeconds: await metric(child.port, 'livetag_inference_seconds_sum'),
            batches: await metric(child.port, 'livetag_batch_size_count'),
            texts: await metric(child.port, 'livetag_batch_size_sum'),
            paddedTokens: await metric(child.port, 'livetag_batch_tokens_sum'),
            overheadTokens: await metric(child.port, 'livetag_batch_overhead_tokens'),
          }
        : undefined;
    await child.stop();
    const s = [...r.latencies].sort((x, y) => x - y);
    const whole = [...r.whole].sort((x, y) => x - y);
    return {
      msgsPerSecond: r.received / r.seconds,
      received: r.received,
      expected: count,
      usage: { cores: c.cpuShare, peakRssMb: c.peakRssBytes / 2 ** 20, brokerCores: b ? b.cpuShare : NaN, benchCores: (self.user + self.system) / 1e6 / wall, cpuSeconds: c.cpuSeconds, brokerCpuSeconds: b ? b.cpuSeconds : NaN, benchCpuSeconds: (self.user + self.system) / 1e6, threads: c.threads, wallSeconds: c.wallSeconds },
      ...(opts.rate
        ? {
            latency: { p50: percentile(s, 0.5), p95: percentile(s, 0.95), p99: percentile(s, 0.99) },
            latencyWholeRun: { p50: percentile(whole, 0.5), p95: percentile(whole, 0.95), p99: percentile(whole, 0.99) },
            latencyByTenth: byTenth(r.whole),
            latencySplit: split(r.before, r.after, r.toFetched, r.fetchedToClassified),
          }
        : {}),
      ...(steadyFrom && r.received > steadyFrom.received
        ? { steady: { fromReceived: steadyFrom.received, messages: r.received - steadyFrom.received, mainCpuSeconds: (threadsAtEnd.main ?? 0) - (steadyFrom.threads.main ?? 0), wallSeconds: (endAt - steadyFrom.at) / 1000 } }
        : {}),
      ...(cache && cache.lookups > 0 ? { cache } : {}),
      ...(model ? { model } : {}),
    };
  }

  async function loadLadder(kind: 'livetag' | 'naive', bundle: string, max: number, seconds: number, env?: Record<string, string>, shares: readonly number[] = [0.25, 0.5, 0.75, 0.9]) {
    const rows = [];
    for (const share of shares) {
      const rate = Math.max(0.5, Math.round(max * share * 10) / 10);
      const count = Math.max(8, Math.round(rate * (seconds + PACED_LEAD_MS / 1000)));
      log(`${kind} paced at ${rate}/s (${share * 100}% of max) for ${count} messages`);
      rows.push({ share, rate, ...(await serveRun(kind, bundle, count, { rate, env })) });
    }
    return rows;
  }
  /**
   * Paced runs at `rate` until the broker's CPU per message settles (within 15% of the run
   * before), at least 3 and at most `maxRuns`. A fresh JVM spends its first minute of small
   * produce and fetch requests interpreting and compiling them: 0.6 cores at 3,000 msgs/s cold,
   * 0.2 warm, on two cores shared with the service under test. Backlog drains (large requests)
   * do not warm those paths. The minimum: short runs (--quick) can look settled at once, each
   * run's setup (new topics, a group join) hiding the fall. A broker in production has run for
   * days; the latency ladder measures that state.
   */
  async function warmPaced(kind: 'livetag' | 'naive', bundle: string, rate: number, seconds: number, maxRuns: number, env?: Record<string, string>) {
    const rows: (ServeResult & { rate: number; brokerCpuUsPerMsg: number })[] = [];
    for (let i = 0; i < maxRuns; i++) {
      const count = Math.max(8, Math.round(rate * (seconds + PACED_LEAD_MS / 1000)));
      log(`${kind} paced at ${rate}/s for ${count} messages to warm the broker (${i + 1} of at most ${maxRuns})`);
      const r = await serveRun(kind, bundle, count, { rate, env });
      const brokerCpuUsPerMsg = (r.usage.brokerCpuSeconds / r.received) * 1e6;
      rows.push({ rate, brokerCpuUsPerMsg, ...r });
      const before = rows.at(-2)?.brokerCpuUsPerMsg;
      // Settled: within 15 % of the run before, either way (a jump up is not a settled broker).
      if (rows.length >= 3 && before !== undefined && Math.abs(brokerCpuUsPerMsg / before - 1) <= 0.15) break;
    }
    return rows;
  }

  /**
   * livetag serve joined to an input topic that stays empty: CPU seconds per
   * second by thread over `seconds`, after `settle` seconds of quiet. What the
   * process spends whatever the traffic (timers, the fetch loop, heartbeats,
   * metrics), which a slow model's few messages a second each carry a large share of.
   */
  async function idleRun(bundle: string, seconds: number, opts: { env?: Record<string, string>; settle?: number } = {}): Promise<Record<string, number>> {
    const child = await startLivetag(bundle, await topics('idle'), opts.env ?? {});
    try {
      await new Promise((r) => setTimeout(r, (opts.settle ?? 3) * 1000));
      const watch = watchProcess(child.process.pid!);
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const c = watch.stop();
      return Object.fromEntries(Object.entries(c.threads).map(([t, s]) => [t, s / c.wallSeconds]));
    } finally {
      await child.stop();
    }
  }

  return {
    brokers: broker.brokers,
    serveRun,
    idleRun,
    loadLadder,
    warmPaced,
    async stop(): Promise<void> {
      await deleteTopics(kafka, created).catch(() => undefined);
      await broker.stop();
    },
  };
}
