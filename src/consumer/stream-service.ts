import { LivetagError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { runAll } from '../common/run-all.ts';
import { createKafkaClient } from '../kafka/client.ts';
import { insecureConnectionWarnings } from '../kafka/connection.ts';
import type { ServeConfig } from './config.ts';
import { createHttpInference, serverLimitsFor } from './http-inference.ts';
import { PACKAGE_VERSION, createServeMetrics, type ServeMetrics } from './metrics.ts';
import { createClassifyStage, type ClassifyStage } from './stages/classify.ts';
import { createCommitter } from './stages/committer.ts';
import { createHealth } from './stages/health.ts';
import { createLagMonitor, type LagMonitor } from './stages/lag-monitor.ts';
import { createModelHost } from './stages/model-host.ts';
import { createPublisher, type Publisher } from './stages/publisher.ts';
import { createSource, type Source } from './stages/source.ts';
import { traceDeliver, traceProcess } from './trace-stages.ts';
import { NOOP_TRACING, createTracing, type Tracing } from './tracing.ts';

export interface StreamService {
  /** Idempotent; rejects with LT_STOPPED when stop() came first or came while it ran. */
  start(): Promise<void>;
  /** Loads, verifies and smoke-tests a registry version, then swaps it in between batches; the old model keeps serving if anything fails. */
  reload(id: string): Promise<boolean>;
  readonly modelVersion: string | undefined;
  /** Stops fetching, drains in-flight batches, publishes, commits, then closes in reverse order. Idempotent; during start(), it ends the start at its next step first. */
  stop(): Promise<{ drained: boolean }>;
  readonly ready: boolean;
  readonly httpPort: number;
  readonly metrics: ServeMetrics;
}

/**
 * The serve job, wired stage by stage in the order data flows:
 * source (consume, backpressure) → classify (validate, dedupe, tokenize,
 * batch, infer, threshold) → publisher (tags, dead letters, transactions) →
 * committer (offsets after everything before them is published). Health and
 * metrics watch from the side; the model host loads and hot-swaps models.
 */
export function createStreamService(config: ServeConfig, logger: Logger): StreamService {
  const metrics = createServeMetrics({ eventLoopResolutionMs: config.eventLoopResolutionMs });
  const models = createModelHost({ model: config.model, registry: config.registry, warmup: { ms: config.warmupMs, batchSize: config.batch.maxSize }, metrics, logger });
  let classify: ClassifyStage | undefined;
  let source: Source | undefined;
  let publisher: Publisher | undefined;
  let tracing: Tracing = NOOP_TRACING;
  const inference = config.httpInference
    ? createHttpInference({
        ...config.httpInference,
        stage: () => classify,
        // The model is what inference needs; a broker hiccup that takes the pod out of rotation need not fail calls already routed here.
        isReady: () => Boolean(classify) && health.live && stopping === undefined,
        serverVersion: PACKAGE_VERSION,
        metrics,
        get tracing() {
          return tracing;
        },
      })
    : undefined;
  let monitor: LagMonitor | undefined;
  const health = createHealth({
    ...config.http,
    metrics,
    isReady: () => Boolean(classify) && Boolean(source?.joined) && (monitor?.brokerReachable ?? false),
    isLive: () => !source?.failure,
    routes: inference?.handle,
    ...(config.httpInference ? { limits: serverLimitsFor(config.httpInference) } : {}),
  });

  /**
   * Each step of a start is awaited, then checked: a stop that came meanwhile
   * ends the start there, so nothing is opened after stop() began to close
   * (stop waits for that, within its deadline). What the step opened is
   * already in a field that stop() closes.
   */
  function running(): void {
    if (stopping) throw new LivetagError('LT_STOPPED', 'the service was stopped while it was starting');
  }

  let started: Promise<void> | undefined;
  function start(): Promise<void> {
    started ??= (async () => {
      running();
      await startSteps();
    })();
    return started;
  }

  async function startSteps(): Promise<void> {
    for (const warning of insecureConnectionWarnings(config.kafka)) logger.warn(warning);
    tracing = await createTracing(process.env, { name: 'livetag', version: PACKAGE_VERSION }, logger);
    running();
    await health.start();
    running();
    logger.info('loading the model', { http: health.port });
    const classifier = await models.load();
    if (stopping) {
      await classifier.stop().catch(() => undefined);
      running();
    }
    classify = createClassifyStage({
      classifier,
      outputTopic: config.topics.output,
      deadLetterTopic: config.topics.deadLetter,
      batch: config.batch,
      maxMessageBytes: config.maxMessageBytes,
      maxOutputBytes: config.maxOutputBytes,
      dedupeCacheSize: config.dedupeCacheSize,
      allScores: config.allScores,
      input: config.input,
      tracing,
      metrics,
    });
    const client = await createKafkaClient({
      connection: config.kafka,
      logLevel: config.logLevel === 'debug' ? 'info' : 'warn',
      log: (level, message, fields) => logger[level](message, fields),
    });
    running();
    await client.admin.ensureTopics([{ topic: config.topics.output }, { topic: config.topics.deadLetter }]);
    running();
    const committer = createCommitter(metrics);
    publisher = createPublisher({ client, delivery: config.delivery, transactionalId: config.transactionalId, groupId: config.groupId, committer, metrics, compression: config.outputCompression, maxOutputBytes: config.maxOutputBytes, logger });
    await publisher.start();
    running();
    // Before the consumer joins: lag and broker reachability are measured even when joining fails.
    monitor = createLagMonitor({
      admin: (await createKafkaClient({ connection: config.kafka, logLevel: 'nothing', connectionTimeoutMs: 3_000, requestTimeoutMs: 5_000, retries: 3, maxRetryTimeMs: 2_000 })).openAdminSession(),
      groupId: config.groupId,
      topic: config.topics.input,
      fromBeginning: config.fromBeginning,
      joined: () => Boolean(source?.joined),
      intervalMs: config.healthIntervalMs,
      metrics,
      logger,
      onTick: () => health.refresh(),
    });
    running();
    monitor.start();
    source = createSource({
      client,
      groupId: config.groupId,
      topic: config.topics.input,
      fromBeginning: config.fromBeginning,
      concurrency: config.partitionsConcurrency,
      // Large chunks keep the batcher's queue deep enough to group texts of
      // similar length; small ones raised padding and cut throughput.
      chunkSize: Math.max(config.batch.maxSize * 4, 64),
      maxInFlight: config.maxInFlight,
      metrics,
      logger,
    });
    const stages = { classify, publisher };
    await source.start({
      process: traceProcess(tracing, (records) => stages.classify.process(records)),
      deliver: traceDeliver(tracing, (outs, position) => stages.publisher.deliver(outs, position)),
    });
    running();
    await models.watch(client, () => classify?.classifier, (next) => stages.classify.swap(next));
    running();
    health.serving();
    logger.info('serving', { input: config.topics.input, output: config.topics.output, delivery: config.delivery, http: health.port });
  }

  /** Reverse order: stop taking work, let what is held publish and commit, then close (every step, even after a failure). */
  function drainAndClose(): Promise<void> {
    return runAll([() => source?.drain(), () => classify?.stop(), () => source?.stop(), () => publisher?.stop()]);
  }

  let stopping: Promise<{ drained: boolean }> | undefined;
  const ok = (): 'settled' => 'settled';
  function stop(): Promise<{ drained: boolean }> {
    stopping ??= (async () => {
      health.leaving();
      // Not awaited before the drain: a reload in flight (a load, a smoke test, a warm-up) would
      // take its time out of the drain deadline, and the pod's grace period is sized to that deadline.
      // First of all: it also ends a start's warm-up.
      const modelsStopped = models.stop();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), config.drainTimeoutMs)));
      // A start in flight ends at its next step (running()); past the deadline, what it opened so far is closed regardless.
      if ((await Promise.race([started?.then(ok, ok), deadline])) === 'timeout') logger.error('the start in progress did not end by the drain deadline; closing what it opened', { deadlineMs: config.drainTimeoutMs });
      // Not awaited before the drain either: with the broker away, a lag reading in flight can take seconds.
      const monitorStopped = monitor?.stop().catch(() => undefined);
      // Made now, so that it has settled by the drain's end when its parts have.
      const sidesStopped = Promise.all([modelsStopped, monitorStopped]);
      sidesStopped.catch(() => undefined); // rethrown below, after the drain; unhandled until then, it would end the process
      const closing = drainAndClose().then(
        () => 'done' as const,
        (err: unknown) => {
          logger.error('drain failed; closing anyway with work uncommitted (it will be redelivered)', { error: (err as Error)?.message ?? String(err) });
          return 'failed' as const;
        },
      );
      const outcome = await Promise.race([closing, deadline]);
      const drained = outcome === 'done';
      if (outcome === 'timeout') logger.error('drain deadline passed; exiting with work uncommitted (it will be redelivered)', { deadlineMs: config.drainTimeoutMs });
      // Each waits for a Kafka start of its own still in flight (the watcher's consumer, a lag reading), which with
      // the broker away lasts the library's retries: the deadline bounds that too.
      const sidesLate = await Promise.race([sidesStopped.then(() => false, () => false), deadline.then(() => true)]);
      clearTimeout(timer);
      if (sidesLate) logger.warn('the model watcher or the lag monitor had not stopped by the drain deadline; closing anyway', { deadlineMs: config.drainTimeoutMs });
      else await sidesStopped;
      await classify?.classifier.stop().catch(() => undefined);
      await health.stop();
      await tracing.stop();
      logger.info('stopped', { drained });
      return { drained };
    })();
    return stopping;
  }

  return {
    metrics,
    start,
    stop,
    reload: (id) => models.reload(id),
    get modelVersion() {
      return classify?.classifier.manifest.version;
    },
    get ready() {
      return health.ready;
    },
    get httpPort() {
      return health.port;
    },
  };
}
