import { errorCode } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { createKafka, ensureTopics, type Consumer, type EachBatchPayload, type Producer } from '../kafka/kafka-client.ts';
import { createClassifier, type Classifier } from '../model/classifier.ts';
import { createModelRegistry } from '../model/registry.ts';
import { createModelWatcher, type ModelWatcher } from './model-watcher.ts';
import { kafkaConnection, type ServeConfig } from './config.ts';
import { createHttpServer, type HttpServer } from './http-server.ts';
import { createInFlightGate } from './in-flight-gate.ts';
import { createServeMetrics, type ServeMetrics } from './metrics.ts';
import { createPipeline, type OutRecord, type Pipeline, type SourceRecord } from './pipeline.ts';

export interface StreamService {
  start(): Promise<void>;
  /** Loads, verifies and smoke-tests a registry version, then swaps it in between batches; the old model keeps serving if anything fails. */
  reload(id: string): Promise<boolean>;
  readonly modelVersion: string | undefined;
  /** Stops fetching, drains in-flight batches, publishes, commits, then closes in reverse order. Idempotent. */
  stop(): Promise<{ drained: boolean }>;
  readonly ready: boolean;
  readonly httpPort: number;
  readonly metrics: ServeMetrics;
}

function groupByTopic(records: readonly OutRecord[]) {
  const byTopic = new Map<string, { key: Buffer | null; value: Buffer | string; headers: OutRecord['headers'] }[]>();
  for (const r of records) {
    let list = byTopic.get(r.topic);
    if (!list) byTopic.set(r.topic, (list = []));
    list.push({ key: r.key, value: r.value, headers: r.headers });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * The serve job: a consumer group reads comments, the pipeline tags them, the
 * producer publishes tags and dead letters, and offsets are committed only
 * after everything before them in the partition is published.
 */
export function createStreamService(config: ServeConfig, logger: Logger): StreamService {
  const metrics = createServeMetrics();
  const exactlyOnce = config.delivery === 'exactly-once';
  let classifier: Classifier | undefined;
  let pipeline: Pipeline | undefined;
  let consumer: Consumer | undefined;
  let producer: Producer | undefined;
  let http: HttpServer | undefined;
  let watcher: ModelWatcher | undefined;
  let reloading: Promise<boolean> = Promise.resolve(true);
  let lastRefused: string | undefined;
  let joined = false;
  let draining = false;
  // eachBatch handlers running now: a drain waits for them while the consumer
  // still runs, because kafkajs ignores commitOffsets once it is stopped.
  let active = 0;
  let onIdle: (() => void) | undefined;
  let txnLock: Promise<void> = Promise.resolve();
  // Records per partition classified, published and committed together. Large
  // chunks keep the batcher's queue deep enough to group texts of similar
  // length (measured: 64-record chunks raised padding from 13 to 19 tokens per
  // text and cut a bert-base drain to 0.63 of raw).
  const chunkSize = Math.max(config.batch.maxSize * 4, 64);
  const gate = createInFlightGate(config.maxInFlight, (used, waiting) => {
    metrics.queueDepth.set(used);
    metrics.fetchPaused.set(waiting > 0 ? 1 : 0);
  });

  const isReady = (): boolean => Boolean(classifier) && joined && !draining;

  async function publish(outs: OutRecord[], topic: string, partition: number, nextOffset: string): Promise<void> {
    const topicMessages = groupByTopic(outs);
    if (!exactlyOnce) {
      if (topicMessages.length > 0) await producer!.sendBatch({ topicMessages, acks: -1 });
      await consumer!.commitOffsets([{ topic, partition, offset: nextOffset }]);
      return;
    }
    // One producer runs one transaction at a time; partitions take turns.
    const previous = txnLock;
    let release!: () => void;
    txnLock = new Promise((r) => (release = r));
    await previous;
    try {
      const txn = await producer!.transaction();
      try {
        if (topicMessages.length > 0) await txn.sendBatch({ topicMessages });
        await txn.sendOffsets({ consumerGroupId: config.groupId, topics: [{ topic, partitions: [{ partition, offset: nextOffset }] }] });
        await txn.commit();
      } catch (err) {
        await txn.abort().catch(() => undefined);
        throw err;
      }
    } finally {
      release();
    }
  }

  function observePublished(outs: readonly OutRecord[]): void {
    const now = Date.now();
    for (const r of outs) {
      if (r.kind === 'dead-letter') {
        metrics.deadLettered.inc({ reason: String(r.headers['livetag-error-code']) });
      } else {
        metrics.classified.inc();
        for (const label of r.tags ?? []) metrics.predictions.inc({ label });
      }
      if (Number.isFinite(r.producedAt) && r.producedAt > 0) metrics.endToEnd.observe(Math.max(0, now - r.producedAt) / 1000);
    }
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    if (draining) return;
    active++;
    try {
      await handleBatch(payload);
    } finally {
      active--;
      if (active === 0) onIdle?.();
    }
  }

  async function handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const fail = (err: unknown): never => {
      metrics.errors.inc({ code: errorCode(err) === 'LT_UNEXPECTED' ? 'LT_KAFKA' : errorCode(err) });
      logger.error('batch failed; it will be retried from the last committed offset', { topic, partition, error: (err as Error).message });
      throw err;
    };
    // Chunk i is published and committed while chunk i+1 is classified, so the
    // model does not sit idle through Kafka round trips (acks=all send, offset
    // commit; profiled at 55 % idle without this). Order holds: a chunk is
    // published only after the previous chunk's publish and commit resolved.
    let previous: Promise<void> = Promise.resolve();
    let failed = false;
    try {
      for (let i = 0; i < batch.messages.length; i += chunkSize) {
        // Draining, revoked, crashed or a publish failed: leave the rest uncommitted for the next owner.
        if (failed || draining || !isRunning() || isStale()) break;
        const chunk = batch.messages.slice(i, i + chunkSize);
        await gate.acquire(chunk.length);
        let outs: OutRecord[];
        try {
          const records: SourceRecord[] = chunk.map((m) => ({
            topic,
            partition,
            offset: m.offset,
            key: m.key,
            value: m.value,
            headers: m.headers,
            timestamp: m.timestamp,
          }));
          outs = await pipeline!.process(records);
        } catch (err) {
          gate.release(chunk.length);
          throw err;
        }
        const prior = previous;
        previous = (async () => {
          try {
            await prior;
            if (isStale()) return;
            const last = chunk[chunk.length - 1].offset;
            const next = String(BigInt(last) + 1n);
            await publish(outs, topic, partition, next);
            resolveOffset(last);
            observePublished(outs);
            metrics.lag.set({ topic, partition: String(partition) }, Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(next))));
            await heartbeat();
          } catch (err) {
            failed = true;
            throw err;
          } finally {
            gate.release(chunk.length);
          }
        })();
        // Awaited below or by the next chunk; never an unhandled rejection meanwhile.
        previous.catch(() => undefined);
      }
    } catch (err) {
      await previous.catch(() => undefined);
      fail(err);
    }
    await previous.catch(fail);
  }

  const loadClassifier = (path: string): Promise<Classifier> =>
    createClassifier({
      bundle: path,
      device: config.model.device,
      deviceId: config.model.deviceId,
      threads: config.model.threads,
      variant: config.model.variant,
      spinning: config.model.spinning,
      warn: (m) => logger.warn(m),
    });

  function showModel(c: Classifier): void {
    const m = c.manifest;
    metrics.modelInfo.reset();
    metrics.modelInfo.set({ model_id: m.modelId, version: m.version, provider: c.provider, variant: c.variant }, 1);
  }

  async function doReload(id: string): Promise<boolean> {
    if (!pipeline || draining || id === pipeline.classifier.manifest.version) return true;
    const registry = createModelRegistry(config.registry!.root);
    let next: Classifier | undefined;
    try {
      next = await loadClassifier(await registry.path(id));
      const [smoke] = await next.classify(['smoke test 多少钱']);
      if (!smoke || !Array.isArray(smoke.tags)) throw new Error('smoke inference returned nothing');
    } catch (err) {
      await next?.stop().catch(() => undefined);
      lastRefused = id;
      metrics.reloadFailures.inc();
      metrics.errors.inc({ code: errorCode(err) });
      logger.error('model reload refused; the current model keeps serving', { version: id, serving: pipeline.classifier.manifest.version, error: (err as Error).message });
      return false;
    }
    const old = await pipeline.swap(next);
    classifier = next;
    showModel(next);
    logger.info('model swapped', { from: old.manifest.version, to: id, labels: next.manifest.labels.length });
    await old.stop();
    return true;
  }

  function reload(id: string): Promise<boolean> {
    // One reload at a time, in the order asked.
    reloading = reloading.then(() => doReload(id));
    return reloading;
  }

  let stopping: Promise<{ drained: boolean }> | undefined;
  return {
    metrics,
    reload,
    get modelVersion() {
      return pipeline?.classifier.manifest.version;
    },
    get ready() {
      return isReady();
    },
    get httpPort() {
      return http?.port ?? config.http.port;
    },
    async start() {
      http = createHttpServer({ host: config.http.host, port: config.http.port, registry: metrics.registry, isReady });
      await http.start();
      const modelPath = config.registry ? await createModelRegistry(config.registry.root).path() : config.model.path;
      classifier = await loadClassifier(modelPath);
      showModel(classifier);
      const m = classifier.manifest;
      logger.info('model loaded', { model: m.modelId, version: m.version, provider: classifier.provider, variant: classifier.variant, labels: m.labels.length });
      pipeline = createPipeline({
        classifier,
        outputTopic: config.topics.output,
        deadLetterTopic: config.topics.deadLetter,
        batch: config.batch,
        maxMessageBytes: config.maxMessageBytes,
        dedupeCacheSize: config.dedupeCacheSize,
        allScores: config.allScores,
        metrics,
      });
      const client = createKafka({
        ...kafkaConnection(config),
        logLevel: config.logLevel === 'debug' ? 'info' : 'warn',
        log: (level, message, fields) => logger[level](message, fields),
      });
      await ensureTopics(client, [{ topic: config.topics.output }, { topic: config.topics.deadLetter }]);
      producer = client.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        ...(exactlyOnce ? { transactionalId: config.transactionalId } : {}),
      });
      await producer.connect();
      consumer = client.consumer({ groupId: config.groupId, readUncommitted: false, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        joined = true;
        // Partitions this instance no longer owns must not keep reporting their last lag.
        metrics.lag.reset();
        const assigned = Object.values(e.payload.memberAssignment).flat().length;
        logger.info('joined consumer group', { group: config.groupId, partitions: assigned });
      });
      consumer.on(consumer.events.CRASH, (e) => {
        metrics.errors.inc({ code: 'LT_KAFKA' });
        logger.error('consumer crashed', { error: e.payload.error.message, restart: e.payload.restart });
      });
      await consumer.connect();
      await consumer.subscribe({ topic: config.topics.input, fromBeginning: config.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: config.partitionsConcurrency,
        eachBatch,
      });
      if (config.registry) {
        watcher = createModelWatcher({
          root: config.registry.root,
          topic: config.registry.topic,
          pollMs: config.registry.pollMs,
          client,
          logger,
          onChange: (id) => {
            if (id !== pipeline?.classifier.manifest.version && id !== lastRefused) void reload(id);
          },
        });
        await watcher.start();
      }
      metrics.ready.set(1);
      logger.info('serving', { input: config.topics.input, output: config.topics.output, delivery: config.delivery, http: http.port });
    },
    stop() {
      stopping ??= (async () => {
        draining = true;
        metrics.ready.set(0);
        await watcher?.stop().catch(() => undefined);
        await reloading;
        let drained = true;
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), config.drainTimeoutMs)));
        const drain = (async () => {
          // Stop fetching, let running handlers publish and commit what they
          // hold, and only then stop the consumer.
          if (consumer) consumer.pause([{ topic: config.topics.input }]);
          if (active > 0) await new Promise<void>((r) => (onIdle = r));
          await pipeline?.stop();
          await consumer?.disconnect();
          await producer?.disconnect();
        })();
        if ((await Promise.race([drain.then(() => 'done' as const), deadline])) === 'timeout') {
          drained = false;
          logger.error('drain deadline passed; exiting with work uncommitted (it will be redelivered)', { deadlineMs: config.drainTimeoutMs });
        }
        clearTimeout(timer);
        await (pipeline?.classifier ?? classifier)?.stop().catch(() => undefined);
        await http?.stop();
        logger.info('stopped', { drained });
        return { drained };
      })();
      return stopping;
    },
  };
}
