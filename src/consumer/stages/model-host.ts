import { errorCode } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { KafkaClient } from '../../kafka/port.ts';
import { createModelRegistry } from '../../model/registry/registry.ts';
import { createClassifier, type Classifier } from '../../model/runtime/classifier.ts';
import type { ServeConfig } from '../config.ts';
import type { ServeMetrics } from '../metrics.ts';
import { createModelWatcher, type ModelWatcher } from '../model-watcher.ts';
import { warmUp, type WarmUpOptions } from '../warm-up.ts';

export interface ModelHostOptions {
  readonly model: ServeConfig['model'];
  readonly registry: ServeConfig['registry'];
  /** How long each loaded model runs sample batches before it serves (warm-up.ts). */
  readonly warmup: WarmUpOptions;
  readonly metrics: ServeMetrics;
  readonly logger: Logger;
  /** When a refused version is tried again: first after `baseMs`, doubling per refusal up to `maxMs`. */
  readonly retryRefused?: { readonly baseMs: number; readonly maxMs: number };
}

/**
 * A refusal can be passing (a bundle still syncing onto a shared volume, a GPU
 * briefly out of memory), so the version is tried again, but with backoff:
 * a truly broken bundle must not be reloaded, at the cost of a whole model load, every poll.
 */
export const RETRY_REFUSED = Object.freeze({ baseMs: 60_000, maxMs: 30 * 60_000 });

export interface ModelHost {
  /** Loads the configured bundle, or the registry's current version. */
  load(): Promise<Classifier>;
  /**
   * Watches the registry (announcements and polling) and hands each verified,
   * smoke-tested new version to `swap`; returns the classifier it replaced, which is then stopped.
   */
  watch(client: KafkaClient, current: () => Classifier | undefined, swap: (next: Classifier) => Promise<Classifier>): Promise<void>;
  /** Loads, verifies and smoke-tests a registry version, then swaps it in; the old model keeps serving if anything fails. */
  reload(id: string): Promise<boolean>;
  stop(): Promise<void>;
}

export function createModelHost(opts: ModelHostOptions): ModelHost {
  const { metrics, logger } = opts;
  let watcher: ModelWatcher | undefined;
  let reloading: Promise<boolean> = Promise.resolve(true);
  const retry = opts.retryRefused ?? RETRY_REFUSED;
  let refused: { id: string; at: number; times: number } | undefined;
  const refuse = (id: string): void => {
    refused = { id, at: Date.now(), times: refused?.id === id ? refused.times + 1 : 1 };
  };
  const backoffMs = (times: number): number => Math.min(retry.baseMs * 2 ** (times - 1), retry.maxMs);
  const stillRefused = (id: string): boolean => refused?.id === id && Date.now() - refused.at < backoffMs(refused.times);
  /** The version the last reload asked for: what serves once the queue drains. */
  let requested: string | undefined;
  let stopped = false;
  let current: () => Classifier | undefined = () => undefined;
  let swap: ((next: Classifier) => Promise<Classifier>) | undefined;

  const { path: _configured, ...session } = opts.model;
  const loadClassifier = (path: string): Promise<Classifier> => createClassifier({ bundle: path, ...session, warn: (m) => logger.warn(m) });

  async function warm(c: Classifier): Promise<void> {
    if (opts.warmup.ms === 0) return;
    const r = await warmUp(c, { ...opts.warmup, cancelled: () => stopped });
    logger.info(r.cancelled ? 'model warm-up cancelled: the service is stopping' : 'model warmed up', { version: c.manifest.version, batches: r.batches, texts: r.texts, ms: Math.round(r.ms) });
  }

  function show(c: Classifier): void {
    const m = c.manifest;
    metrics.modelInfo.reset();
    metrics.modelInfo.set({ model_id: m.modelId, version: m.version, provider: c.provider, variant: c.variant }, 1);
  }

  async function doReload(id: string): Promise<boolean> {
    const serving = current();
    if (!serving || !swap || stopped || !opts.registry || id === serving.manifest.version) return true;
    let next: Classifier | undefined;
    try {
      next = await loadClassifier(await createModelRegistry(opts.registry.root).path(id));
      const [smoke] = await next.classify(['smoke test 多少钱']);
      if (!smoke || !Array.isArray(smoke.tags)) throw new Error('smoke inference returned nothing');
      await warm(next);
    } catch (err) {
      await next?.stop().catch(() => undefined);
      if (stopped) return false;
      refuse(id);
      // Else the watcher would take this version for one already on its way and never try it again.
      if (requested === id) requested = undefined;
      metrics.reloadFailures.inc();
      metrics.errors.inc({ code: errorCode(err) });
      logger.error('model reload refused; the current model keeps serving', { version: id, serving: serving.manifest.version, retryInMs: backoffMs(refused?.times ?? 1), error: (err as Error).message });
      return false;
    }
    if (stopped) {
      // The service is draining with the model it has: a swap now would only add work to the shutdown.
      await next.stop();
      return false;
    }
    const old = await swap(next);
    refused = undefined;
    show(next);
    metrics.modelFallback.set(0);
    logger.info('model swapped', { from: old.manifest.version, to: id, labels: next.manifest.labels.length });
    await old.stop();
    return true;
  }

  /**
   * The registry's current version, or, when it does not load (a corrupt
   * file on the shared volume), the newest other version that does: every
   * pod crash-looping on one bad bundle is worse than serving the previous
   * model, as long as it is said loudly (metric, error log).
   */
  async function loadFromRegistry(root: string): Promise<Classifier> {
    const registry = createModelRegistry(root);
    const currentId = await registry.current();
    try {
      return await loadClassifier(await registry.path());
    } catch (err) {
      if (!currentId) throw err;
      const others = (await registry.list()).filter((e) => e.id !== currentId).sort((a, b) => b.manifest.createdAt.localeCompare(a.manifest.createdAt));
      for (const candidate of others) {
        const fallback = await loadClassifier(await registry.path(candidate.id)).catch(() => undefined);
        if (!fallback) continue;
        refuse(currentId);
        metrics.modelFallback.set(1);
        metrics.errors.inc({ code: errorCode(err) });
        logger.error('the current model does not load; serving the newest older version that verifies until a good one is promoted', {
          current: currentId,
          serving: candidate.id,
          error: (err as Error).message,
        });
        return fallback;
      }
      throw err;
    }
  }

  const reload = (id: string): Promise<boolean> => {
    requested = id;
    // One reload at a time, in the order asked; one that failed (a swap or the old model's stop threw) does not fail the next.
    reloading = reloading.catch(() => false).then(() => doReload(id));
    return reloading;
  };

  return {
    async load() {
      const classifier = opts.registry ? await loadFromRegistry(opts.registry.root) : await loadClassifier(opts.model.path);
      try {
        await warm(classifier);
      } catch (err) {
        await classifier.stop().catch(() => undefined);
        throw err;
      }
      show(classifier);
      const m = classifier.manifest;
      logger.info('model loaded', { model: m.modelId, version: m.version, provider: classifier.provider, variant: classifier.variant, sessions: classifier.parallelism, sessionsWhy: classifier.sessionsReason, labels: m.labels.length });
      return classifier;
    },
    async watch(client, currentFn, swapFn) {
      current = currentFn;
      swap = swapFn;
      if (!opts.registry) return;
      watcher = createModelWatcher({
        root: opts.registry.root,
        topic: opts.registry.topic,
        pollMs: opts.registry.pollMs,
        client,
        logger,
        onChange: (id) => {
          // Against what will serve once queued reloads finish: a rollback to the serving version,
          // announced while another loads, must still be queued (doReload skips it if it is moot).
          if (id !== (requested ?? current()?.manifest.version) && !stillRefused(id))
            reload(id).catch((err: unknown) => logger.error('model reload failed', { version: id, error: (err as Error)?.message ?? String(err) }));
        },
      });
      await watcher.start();
    },
    reload,
    async stop() {
      stopped = true;
      await watcher?.stop().catch(() => undefined);
      await reloading.catch(() => undefined);
    },
  };
}
