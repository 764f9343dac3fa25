
/**
 * The suite's report: suite.md from suite.json, and the README's headline
 * block (scripts/update-readme.ts), so neither can drift from the numbers.
 */

export const f = (x: number | undefined, d = 1): string => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
const mb = (b: number): string => (b / 2 ** 20).toFixed(0);

export type RawRow = { batch: number; textsPerSecond: number; gflops: number; meanTokens: number; paddingShare: number; cpuSecondsPer1000: number; sessions?: number };
export type Usage = { cores: number; peakRssMb: number; brokerCores: number; benchCores: number; cpuSeconds: number; brokerCpuSeconds: number; benchCpuSeconds: number; threads?: Record<string, number>; wallSeconds?: number };
export type ServeResult = {
  msgsPerSecond: number;
  received: number;
  expected: number;
  usage: Usage;
  /** Paced runs: ms from the record's timestamp to the tagged record read back, past the run's first seconds (serve-harness PACED_LEAD_MS; all of it in runs from before that). */
  latency?: { p50: number; p95: number; p99: number };
  /** Paced runs: the same over every record, the fresh service's first seconds included; absent in runs from before the lead. */
  latencyWholeRun?: { p50: number; p95: number; p99: number };
  /** Paced runs: p99 ms of each tenth (the whole run) of the messages in the order they were read back (is the tail a start-up cost or steady?). */
  latencyByTenth?: number[];
  /** Paced runs: the latency split at livetag's classifiedAt stamp (after inference): record timestamp → classified, classified → read back. */
  latencySplit?: {
    beforeClassified: { p50: number; p99: number };
    afterClassified: { p50: number; p99: number };
    /** livetag only (its records carry fetchedAt): the part before classifiedAt, split at the consumer's receipt. */
    toFetched?: { p50: number; p99: number };
    fetchedToClassified?: { p50: number; p99: number };
  };
  cache?: { lookups: number; hits: number };
  /** Backlog runs: the main thread's CPU over the messages read back past the drain's first quarter (serve-harness STEADY_FROM_SHARE); absent in runs from before it. */
  steady?: { fromReceived: number; messages: number; mainCpuSeconds: number; wallSeconds: number };
  /** From livetag's own /metrics at the end of the run. */
  model?: { inferenceSeconds: number; batches: number; texts: number; paddedTokens: number; overheadTokens?: number };
};

export type SuiteOutput = {
  /** Per model shape: the ratios and bounds the serving goals are stated in (suite-summary.ts); absent in runs before issue 19. */
  summary?: Record<string, ShapeSummary>;
  startedAt: string;
  finishedAt: string;
  complete: boolean;
  quick: boolean;
  machine: { cores: number; cpu: string; node: string; loadAverageAtStart: number };
  texts: string;
  partitions: number;
  gpu: { available: boolean; reason: string };
  results: Record<string, unknown>[];
};

export function renderMarkdown(o: SuiteOutput): string {
  const L: string[] = [];
  L.push(`# livetag benchmark suite`, '');
  L.push(`${o.startedAt} → ${o.finishedAt}${o.quick ? ' (--quick)' : ''}; ${o.machine.cores} cores (${o.machine.cpu}), Node ${o.machine.node}, load average ${f(o.machine.loadAverageAtStart, 2)} at start.`);
  L.push(`Texts: ${o.texts}. Broker: a real single-node Kafka on this machine, ${o.partitions} partitions per topic. Regenerate: \`npm run bench\`.`);
  L.push(`GPU: ${o.gpu.available ? o.gpu.reason : `none here — ${o.gpu.reason}; no GPU numbers in this table`}.`, '');
  if (o.summary && Object.keys(o.summary).length > 0) {
    const keys = Object.keys(o.summary);
    L.push('### Summary (the `summary` object of suite.json)', '', `| | ${keys.join(' | ')} | goal |`, `|---|${keys.map(() => '---:').join('|')}|---|`);
    const row = (name: string, get: (x: ShapeSummary) => string, goal: string): number => L.push(`| ${name} | ${keys.map((k) => get(o.summary![k])).join(' | ')} | ${goal} |`);
    row('serve / raw onnxruntime (model.onnx)', (x) => f(x.serve_over_raw, 2), '≥ 0.9');
    row('serve (default variant) / transformers.js', (x) => `${f(x.serve_over_transformersjs, 2)}×`, '≥ 3×');
    row('non-model CPU µs per message (past the drain\'s first quarter)', (x) => f(x.overhead_cpu_us_per_msg, 0), '≤ 60');
    row('· the whole drain, a fresh service\'s first quarter in', (x) => f(x.overhead_cpu_us_per_msg_whole_drain ?? NaN, 0), '');
    row('· of it the per-second floor (main thread idle, ms CPU per s)', (x) => f(x.idle_main_cpu_ms_per_s ?? NaN, 1), '');
    row('· above that floor, µs per message', (x) => f(x.overhead_cpu_us_per_msg_above_idle ?? NaN, 0), '');
    row('p99 ms at 50 % load (past the run\'s first 2 s)', (x) => f(x.p99_ms_at_50pct, 0), '≤ bound');
    row('· the whole run, a fresh service\'s first 2 s in', (x) => f(x.p99_ms_at_50pct_whole_run ?? NaN, 0), '');
    row('p99 bound ms (max wait + 2 × batch time at 50 % load)', (x) => f(x.p99_bound_ms, 0), '');
    row('p99 ms at 50 % load inside livetag (fetched → classified)', (x) => f(x.p99_in_livetag_ms_at_50pct, 0), '');
    L.push('');
  }
  for (const r of o.results as Record<string, any>[]) {
    if (r.key.endsWith('-dedupe')) {
      const on = r.on as ServeResult;
      const off = r.off as ServeResult;
      L.push(`### Duplicate cache on real live chat (${on.expected} comments once each, in their order)`, '');
      L.push('| cache | msgs/s | hit rate | livetag CPU (cores) |', '|---|---:|---:|---:|');
      L.push(`| off | ${f(off.msgsPerSecond)} | – | ${f(off.usage.cores, 2)} |`);
      L.push(`| 10,000 entries | ${f(on.msgsPerSecond)} | ${on.cache ? f((on.cache.hits / on.cache.lookups) * 100, 1) + '%' : '–'} | ${f(on.usage.cores, 2)} |`, '');
      continue;
    }
    const ra = r.ratios;
    L.push(`## ${r.title}`, '');
    L.push('| ratio | value | target |', '|---|---:|---|');
    L.push(`| livetag serve (broker) / raw onnxruntime at its best batch (${r.best}), raw measured right before and after | **${f(ra.pipelineOverRaw, 2)}** | ≥ 0.9 |`);
    L.push(`| same, raw from the batch sweep earlier in the run | ${f(ra.pipelineOverRawSweep, 2)} | |`);
    L.push(`| same, onnxruntime thread spinning off | ${f(ra.pipelineOverRawNoSpin, 2)} | |`);
    L.push(`| same, 1 onnxruntime thread (the other core left to Kafka work) | ${f(ra.pipelineOverRawOneThread, 2)} | |`);
    if (ra.pipelineOverRawOtherSessions !== undefined) L.push(`| same, LIVETAG_SESSIONS=${r.sessions.other} (the default, auto, ran ${r.sessions.auto} here: ${r.sessions.reason}) | ${f(ra.pipelineOverRawOtherSessions, 2)} | |`);
    // Runs from before 2026-12-05 had one session by default and measured two beside it.
    if (ra.pipelineOverRawTwoSessions !== undefined) L.push(`| same, 2 onnxruntime sessions (the threads split between them; the default is 1) | ${f(ra.pipelineOverRawTwoSessions, 2)} | |`);
    // Runs from before 2026-12-03 set LIVETAG_SESSIONS=1 after the default had become 1: a second run of the first row.
    if (ra.pipelineOverRawOneSession !== undefined) L.push(`| same again (LIVETAG_SESSIONS=1 set, the default: a repeat of the first row, i.e. run-to-run noise) | ${f(ra.pipelineOverRawOneSession, 2)} | |`);
    L.push(`| livetag serve with the bundle's auto variant (cpu → ${r.serving.cpu}) / raw model.onnx | ${f(ra.pipelineAutoOverRaw, 2)} | |`);
    L.push(`| livetag serve / naive consumer | **${f(ra.livetagOverNaive, 1)}×** | ≥ 10× |`);
    L.push(`| livetag serve (broker) / transformers.js pipeline (in process, best batch) | **${f(ra.livetagServeOverTransformersJs, 2)}×** | |`);
    for (const c of ra.livetagClassifierOverTransformersJs) L.push(`| livetag classifier / transformers.js pipeline, both in process, batch ${c.batch} | ${f(c.ratio, 2)}× | |`);
    L.push(`| model GFLOP/s / ${'2048²'} matrix product GFLOP/s | **${f(ra.modelGflopsOverMatmul * 100, 0)}%** | |`);
    L.push(`| model GFLOP/s / model-shaped GEMM (${r.matmul.gemmShape}) GFLOP/s | ${f(ra.modelGflopsOverModelShapedGemm * 100, 0)}% | |`, '');

    L.push('| mode | msgs/s | CPU (cores) | peak RSS MiB | broker CPU | load generator CPU |', '|---|---:|---:|---:|---:|---:|');
    const sessionsOf = (x: RawRow): string => (x.sessions && x.sessions > 1 ? `, ${x.sessions} sessions` : '');
    L.push(`| raw onnxruntime, batch ${r.best} (in process), beside the serve runs, the better of 1 and 2 sessions | ${f(r.rawBeside.mean)} (${f(r.rawBeside.before.textsPerSecond)} before${sessionsOf(r.rawBeside.before)}, ${f(r.rawBeside.after.textsPerSecond)} after${sessionsOf(r.rawBeside.after)}) | – | – | – | – |`);
    const tb = r.transformersJs.rows.reduce((a: any, b: any) => (b.transformersJs > a.transformersJs ? b : a));
    L.push(`| transformers.js pipeline, batch ${tb.batch} (in process) | ${f(tb.transformersJs)} | – | – | – | – |`);
    const serveRow = (name: string, s: ServeResult): string => `| ${name} | ${f(s.msgsPerSecond)} | ${f(s.usage.cores, 2)} | ${mb(s.usage.peakRssMb * 2 ** 20)} | ${f(s.usage.brokerCores, 2)} | ${f(s.usage.benchCores, 2)} |`;
    L.push(serveRow('livetag serve, model.onnx', r.livetag));
    L.push(serveRow('livetag serve, model.onnx, onnxruntime spinning off', r.livetagNoSpin));
    L.push(serveRow(`livetag serve, auto variant (cpu → ${r.serving.cpu})`, r.livetagAuto));
    L.push(serveRow('livetag serve, model.onnx, 1 onnxruntime thread', r.livetagOneThread));
    if (r.livetagOtherSessions) L.push(serveRow(`livetag serve, model.onnx, LIVETAG_SESSIONS=${r.sessions.other} (not the default here)`, r.livetagOtherSessions));
    if (r.livetagTwoSessions) L.push(serveRow('livetag serve, model.onnx, 2 onnxruntime sessions', r.livetagTwoSessions));
    if (r.livetagOneSession) L.push(serveRow('livetag serve, model.onnx, LIVETAG_SESSIONS=1 (the default: a repeat)', r.livetagOneSession));
    L.push(serveRow('naive consumer (per message, max-length padding)', r.naive), '');

    L.push(
      'End-to-end latency (record timestamp → tagged record read back), paced input. The p99 of its parts, split at the output\'s timing stamps: ' +
        'record → fetched (produce, broker, the consumer\'s fetch), fetched → classified (queue, batching, inference), classified → read back (publish, the reader\'s fetch); ' +
        'the naive consumer stamps no fetchedAt, so its first two parts show as one. Each run starts a fresh process; the percentiles leave out the records produced in its first 2 s (its JIT warm-up), and the last column gives the whole run\'s p99 with them:',
      '',
    );
    L.push('| mode | load | msgs/s offered | p50 ms | p95 ms | p99 ms | p99 of the parts, ms | CPU (cores) | broker (cores) | peak RSS MiB | p99 ms, whole run |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    const split = (x: ServeResult) => {
      const s = x.latencySplit;
      if (!s) return '–';
      const head = s.toFetched && s.fetchedToClassified ? `${f(s.toFetched.p99, 0)} / ${f(s.fetchedToClassified.p99, 0)}` : `(${f(s.beforeClassified.p99, 0)})`;
      return `${head} / ${f(s.afterClassified.p99, 0)}`;
    };
    for (const [name, ladder] of [['livetag', r.ladder], ['naive', r.naiveLadder]] as const) {
      for (const x of ladder) L.push(`| ${name} | ${x.share * 100}% | ${x.rate} | ${f(x.latency.p50, 0)} | ${f(x.latency.p95, 0)} | ${f(x.latency.p99, 0)} | ${split(x)} | ${f(x.usage.cores, 2)} | ${f(x.usage.brokerCores, 2)} | ${mb(x.usage.peakRssMb * 2 ** 20)} | ${f(x.latencyWholeRun?.p99 ?? NaN, 0)} |`);
    }
    L.push('');
    if (r.ladderWarmup?.length) {
      const w = r.ladderWarmup as (ServeResult & { rate: number; brokerCpuUsPerMsg: number })[];
      L.push(
        `Before the ladder, ${w.length} paced run${w.length > 1 ? 's' : ''} of livetag at ${w[0].rate}/s warmed the broker's small-request paths (a fresh JVM compiles them in its first minute; at least 3 runs, stopping once its CPU per message settles within 15%): ` +
          `broker CPU ${w.map((x) => f(x.brokerCpuUsPerMsg, 0)).join(' → ')} µs per message, livetag p99 ${w.map((x) => f(x.latency?.p99, 0)).join(' → ')} ms.`,
        '',
      );
    }
    L.push('Raw onnxruntime by batch size (model.onnx, arrival order):', '');
    L.push('| batch | texts/s | model GFLOP/s | of 2048² matmul | mean tokens | padding |', '|---:|---:|---:|---:|---:|---:|');
    for (const x of r.raw as RawRow[]) L.push(`| ${x.batch} | ${f(x.textsPerSecond)} | ${f(x.gflops)} | ${f((x.gflops / r.matmul.square2048) * 100, 0)}% | ${f(x.meanTokens)} | ${f(x.paddingShare * 100, 0)}% |`);
    L.push(`| ${r.best}, length-bucketed (sorted in windows of 512) | ${f(r.bucketed.textsPerSecond)} | ${f(r.bucketed.gflops)} | | ${f(r.bucketed.meanTokens)} | ${f(r.bucketed.paddingShare * 100, 0)}% |`);
    L.push(`| ${r.best}, 1 intra-op thread | ${f(r.oneThread.textsPerSecond)} | ${f(r.oneThread.gflops)} | | | |`);
    if (r.twoSessions) L.push(`| ${r.best}, 2 sessions splitting the threads, a batch each in flight | ${f(r.twoSessions.textsPerSecond)} | ${f(r.twoSessions.gflops)} | | | |`);
    L.push(`\n2048² matrix product: ${f(r.matmul.square2048)} GFLOP/s; model-shaped GEMM ${r.matmul.gemmShape}: ${f(r.matmul.modelShapedGemm)} GFLOP/s.`, '');
    L.push(`Serving variants at batch ${r.best} (CPU; agreement with model.onnx on real comments; \`livetag optimize\` chose cpu → ${r.serving.cpu}, cuda → ${r.serving.cuda}):`, '');
    L.push('| variant | texts/s | vs model.onnx | same tags | max |Δp| | MB |', '|---|---:|---:|---:|---:|---:|');
    const baseRate = r.raw.find((x: RawRow) => x.batch === r.best).textsPerSecond;
    L.push(`| model.onnx (fp32) | ${f(baseRate)} | 1.00× | 100% | 0 | ${f(r.baseMegabytes, 1)} |`);
    for (const v of r.variants) L.push(`| ${v.name} (${v.precision}) | ${f(v.textsPerSecond)} | ${f(v.textsPerSecond / baseRate, 2)}×${v.name === 'fp16' ? ' (CPU casts; built for CUDA)' : ''} | ${f(v.sameTags * 100, 2)}% | ${v.maxAbsProbDiff.toExponential(1)} | ${f(v.megabytes, 1)} |`);
    L.push('');
    if (r.gpu.length) {
      L.push('GPU (CUDA execution provider), model only:', '', '| variant | batch | texts/s | model GFLOP/s |', '|---|---:|---:|---:|');
      for (const g of r.gpu) L.push(`| ${g.variant} | ${g.batch} | ${f(g.textsPerSecond)} | ${f(g.gflops)} |`);
      L.push('');
    }
    const lt = r.livetag as ServeResult;
    const perK = (cpuSeconds: number): string => f((cpuSeconds / lt.received) * 1000, 2);
    const rawBest = r.raw.find((x: RawRow) => x.batch === r.best) as RawRow;
    L.push(`Where the CPU goes (CPU seconds per 1000 messages, livetag backlog run vs the raw model at batch ${r.best}):`, '');
    L.push('| where | CPU s / 1000 msgs |', '|---|---:|');
    L.push(`| raw onnxruntime alone (tokenize excluded) | ${f(rawBest.cpuSecondsPer1000, 2)} |`);
    L.push(`| livetag process, all threads | ${perK(lt.usage.cpuSeconds)} |`);
    const secs = lt.received / lt.msgsPerSecond;
    if (lt.model) {
      L.push(`| · its batches: ${f(lt.model.texts / lt.model.batches)} texts, ${f(lt.model.paddedTokens / lt.model.texts)} padded tokens per text (raw: ${rawBest.batch}, ${f(rawBest.meanTokens / (1 - rawBest.paddingShare))}) | |`);
    }
    L.push(`| Kafka broker (JVM) | ${perK(lt.usage.brokerCpuSeconds)} |`);
    L.push(`| reader of the output (bench process) | ${perK(lt.usage.benchCpuSeconds)} |`);
    L.push(`| machine total available | ${f((o.machine.cores / lt.msgsPerSecond) * 1000, 2)} (${o.machine.cores} cores × ${f(secs, 1)} s) |`);
    L.push('');
    L.push(
      `Raw onnxruntime's CPU per message (batch ${rawBest.batch}) over livetag's: raw ${f(rawBest.cpuSecondsPer1000, 2)} / livetag ${f((lt.usage.cpuSeconds / lt.received) * 1000, 2)} = **${f((rawBest.cpuSecondsPer1000 / ((lt.usage.cpuSeconds / lt.received) * 1000)) * 100, 0)}%** ` +
        `(an estimate of the model's share of livetag's CPU, which passes 100 % where serve's batches, sized and length-bucketed, cost less per message than raw's); ` +
        `the broker and the reader, which a deployment runs elsewhere, take ${f(((lt.usage.brokerCpuSeconds + lt.usage.benchCpuSeconds) / lt.received) * 1000, 2)} CPU s per 1000 messages on these same cores.`,
      '',
    );
  }
  return L.join('\n') + '\n';
}

/** The README's performance block: the issue's ratios and the serving numbers per model. */
export function renderHeadline(o: SuiteOutput): string {
  const models = (o.results as Record<string, any>[]).filter((r) => r.ratios);
  const dedupe = (o.results as Record<string, any>[]).find((r) => String(r.key).endsWith('-dedupe'));
  const L: string[] = [];
  L.push(`Latest \`npm run bench\` (${o.finishedAt.slice(0, 10)}, ${o.machine.cores} cores, ${o.machine.cpu}; texts: ${o.texts.includes('livechat-douyin') ? 'the 10,000 real live comments of ../shared/data/livechat-douyin' : o.texts}). All tables: [bench/results/suite.md](bench/results/suite.md).`, '');
  L.push(`| | ${models.map((m) => (m.key === 'default' ? 'default model (2 layers, hidden 128)' : 'bert-base-chinese shape (12 layers, hidden 768)')).join(' | ')} |`);
  L.push(`|---|${models.map(() => '---:').join('|')}|`);
  const row = (name: string, cell: (m: any) => string): void => void L.push(`| ${name} | ${models.map(cell).join(' | ')} |`);
  row('**livetag serve / raw onnxruntime** (target ≥ 0.9)', (m) => `**${f(m.ratios.pipelineOverRaw, 2)}**`);
  row('**livetag serve / naive consumer** (target ≥ 10×)', (m) => `**${f(m.ratios.livetagOverNaive, 1)}×**`);
  // What a user gets: serve with the bundle's default (auto) variant; the same model.onnx beside it.
  const tjsBest = (m: any): number => Math.max(...m.transformersJs.rows.map((x: any) => x.transformersJs));
  row('**livetag serve (default variant) / transformers.js pipeline** (pipeline in process, no Kafka; target ≥ 3×)', (m) => `**${f(m.livetagAuto.msgsPerSecond / tjsBest(m), 2)}×** (cpu → ${m.serving.cpu})`);
  row('livetag serve (model.onnx, as the pipeline) / transformers.js pipeline', (m) => `${f(m.ratios.livetagServeOverTransformersJs, 2)}×`);
  row('livetag classifier / transformers.js pipeline, both in process', (m) => m.ratios.livetagClassifierOverTransformersJs.map((c: any) => `${f(c.ratio, 2)}× (batch ${c.batch})`).join(', '));
  row('**model GFLOP/s / 2048² matrix product GFLOP/s**', (m) => `**${f(m.ratios.modelGflopsOverMatmul * 100, 0)}%** (${f(m.raw.find((x: RawRow) => x.batch === m.best).gflops)} / ${f(m.matmul.square2048)})`);
  row('livetag serve, msgs/s (backlog, real broker on the same cores)', (m) => f(m.livetag.msgsPerSecond));
  row('raw onnxruntime, texts/s (best batch, beside the serve runs)', (m) => `${f(m.rawBeside.mean)} (batch ${m.best})`);
  row('naive consumer, msgs/s', (m) => f(m.naive.msgsPerSecond, m.naive.msgsPerSecond < 10 ? 1 : 0));
  row('transformers.js pipeline, texts/s (best batch)', (m) => f(tjsBest(m)));
  for (const share of [0.25, 0.5, 0.75]) {
    row(`livetag p50 / p95 / p99 ms at ${share * 100}% load${share === 0.25 ? ' (past each run\'s first 2 s; the whole run\'s p99 after "whole")' : ''}`, (m) => {
      const x = m.ladder.find((l: any) => l.share === share);
      const whole = x.latencyWholeRun ? `, whole ${f(x.latencyWholeRun.p99, 0)}` : '';
      return `${f(x.latency.p50, 0)} / ${f(x.latency.p95, 0)} / ${f(x.latency.p99, 0)} (${x.rate}/s${whole})`;
    });
  }
  row('livetag CPU (cores) / peak RSS MiB, backlog', (m) => `${f(m.livetag.usage.cores, 2)} / ${f(m.livetag.usage.peakRssMb, 0)}`);
  row('raw onnxruntime CPU per text / livetag process CPU per message (over 100 %: livetag pads less)', (m) => `${f((m.raw.find((x: RawRow) => x.batch === m.best).cpuSecondsPer1000 / ((m.livetag.usage.cpuSeconds / m.livetag.received) * 1000)) * 100, 0)}%`);
  row('broker + reader CPU s per 1000 messages (on the same 2 cores)', (m) => f(((m.livetag.usage.brokerCpuSeconds + m.livetag.usage.benchCpuSeconds) / m.livetag.received) * 1000, 2));
  const variant = (name: string) => (m: any) => {
    const v = m.variants.find((x: any) => x.name === name);
    const base = m.raw.find((x: RawRow) => x.batch === m.best).textsPerSecond;
    return v ? `${f(v.textsPerSecond / base, 2)}×, same tags ${f(v.sameTags * 100, 2)}%, max Δp ${v.maxAbsProbDiff.toExponential(1)}` : '–';
  };
  row('fused graph vs model.onnx (CPU speed, agreement)', variant('fused'));
  row('int8 vs model.onnx', variant('int8'));
  row('fp16 vs model.onnx (on CPU; built for CUDA)', variant('fp16'));
  row('`livetag optimize` serves', (m) => `cpu → ${m.serving.cpu}, cuda → ${m.serving.cuda}`);
  L.push('');
  if (dedupe) L.push(`Duplicate cache on real live chat (${dedupe.on.expected} comments in order): ${f((dedupe.on.cache.hits / dedupe.on.cache.lookups) * 100, 1)}% hits, ${f(dedupe.on.msgsPerSecond, 0)} vs ${f(dedupe.off.msgsPerSecond, 0)} msgs/s with it off.`);
  L.push(`GPU: ${o.gpu.available ? 'CUDA numbers in bench/results/suite.md.' : 'none on this machine (the CUDA provider does not load), so no GPU numbers.'}`);
  return L.join('\n');
}

/** One model shape's line of the suite's summary (bench/lib/suite-summary.ts computes it). */
export interface ShapeSummary {
  /** livetag serve (model.onnx) / raw onnxruntime at its best batch, raw measured before and after the serve runs. */
  readonly serve_over_raw: number;
  /** livetag serve with the default variant (auto) / the transformers.js pipeline at its best batch. */
  readonly serve_over_transformersjs: number;
  /**
   * CPU of livetag's main thread per message (/proc, tid = pid): Kafka client, parsing, validation, batching,
   * output JSON, publishing. The model runs on the worker and onnxruntime's threads; tokenizing on libuv's pool
   * (bench/serve-profile.ts measures it apart).
   */
  readonly overhead_cpu_us_per_msg: number;
  /** overhead_cpu_us_per_msg is the backlog's steady part (past its first quarter: a fresh process compiling its hot paths); this is the whole drain. Absent in runs from before the split. */
  readonly overhead_cpu_us_per_msg_whole_drain?: number;
  /** The main thread's CPU per second with nothing to read (timers, the fetch loop, heartbeats, metrics), the same settings. */
  readonly idle_main_cpu_ms_per_s?: number;
  /** overhead_cpu_us_per_msg less that floor over the run's wall time: what each message itself costs; a slow model's few messages a second each carry a large share of the floor. */
  readonly overhead_cpu_us_per_msg_above_idle?: number;
  /** Whole-process CPU per message minus the raw model's at serve's padded tokens per text: a cross-check, noisy for large models. */
  readonly overhead_by_subtraction_us_per_msg: number;
  /** Past each paced run's first seconds (a fresh service warming up): the steady state. */
  readonly p99_ms_at_50pct: number;
  /** The same run with its first seconds in. */
  readonly p99_ms_at_50pct_whole_run?: number;
  /** LIVETAG_BATCH_MAX_WAIT_MS + 2 × one batch's time at 50 % load (halfLoadBatchMs: that step's own batches, no longer than its capacity allows). */
  readonly p99_bound_ms: number;
  /** The same run's p99 from the consumer's receipt (fetchedAt) to classifiedAt: livetag's own share, without Kafka's round trips; absent before it was stamped. */
  readonly p99_in_livetag_ms_at_50pct?: number;
  readonly settings: Record<string, unknown>;
}
