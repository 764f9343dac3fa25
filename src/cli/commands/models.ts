import { parseArgs } from 'node:util';
import { announcePromotion } from '../../consumer/model-watcher.ts';
import { createKafka } from '../../kafka/kafka-client.ts';
import { kafkaConnection, loadServeConfig } from '../../consumer/config.ts';
import { createModelRegistry } from '../../model/registry.ts';
import { usageError, type Command } from '../main.ts';

const HELP = `usage: livetag models <list|publish <bundle>|promote <id>|rollback|prune> [--registry DIR] [--keep N] [--brokers B] [--topic T]

Manages the model registry (default: $LIVETAG_REGISTRY or models/registry):
  list              versions, the current one marked *
  publish <bundle>  copy a verified bundle in as versions/<its version>
  promote <id>      make <id> current (atomically), then announce it
  rollback          make the previously promoted version current again, then announce it
  prune --keep N    delete all but the newest N versions (never current or the rollback target)
Promotions are announced on the compacted topic --topic (default $LIVETAG_MODEL_TOPIC or livetag.models)
when --brokers (or $LIVETAG_KAFKA_BROKERS) is given; serving replicas also poll the registry.`;

export const command: Command = {
  summary: 'list, publish, promote and roll back model versions',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        registry: { type: 'string', default: process.env.LIVETAG_REGISTRY ?? 'models/registry' },
        keep: { type: 'string', default: '5' },
        brokers: { type: 'string', default: process.env.LIVETAG_KAFKA_BROKERS },
        topic: { type: 'string', default: process.env.LIVETAG_MODEL_TOPIC ?? 'livetag.models' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    const [action, arg] = positionals;
    if (values.help || !action) {
      process.stdout.write(HELP + '\n');
      return values.help ? 0 : 2;
    }
    const registry = createModelRegistry(values.registry);
    const announce = async (id: string): Promise<void> => {
      if (!values.brokers) return;
      // Same TLS/SASL settings (LIVETAG_KAFKA_*) as the service, so secured clusters work too.
      const connection = kafkaConnection(loadServeConfig(), values.brokers);
      await announcePromotion(createKafka({ ...connection, clientId: 'livetag-models', logLevel: 'nothing' }), values.topic, registry.root, id);
      process.stdout.write(`announced ${id} on ${values.topic}\n`);
    };
    switch (action) {
      case 'list': {
        for (const e of await registry.list()) {
          const m = e.manifest;
          const f1 = m.training?.metrics?.macro_f1;
          process.stdout.write(`${e.current ? '*' : ' '} ${e.id}  ${m.modelId}  ${m.labels.length} labels  ${m.createdAt}${f1 === undefined ? '' : `  macro-F1 ${f1.toFixed(3)}`}\n`);
        }
        return 0;
      }
      case 'publish': {
        if (!arg) throw usageError('publish needs a bundle directory');
        process.stdout.write(`published ${await registry.publish(arg)}\n`);
        return 0;
      }
      case 'promote': {
        if (!arg) throw usageError('promote needs a version id (see `livetag models list`)');
        await registry.promote(arg);
        process.stdout.write(`current: ${arg}\n`);
        await announce(arg);
        return 0;
      }
      case 'rollback': {
        const id = await registry.rollback();
        process.stdout.write(`current: ${id}\n`);
        await announce(id);
        return 0;
      }
      case 'prune': {
        const keep = Number(values.keep);
        if (!Number.isInteger(keep) || keep < 1) throw usageError('--keep must be a positive integer');
        const removed = await registry.prune(keep);
        process.stdout.write(removed.length ? `removed ${removed.join(', ')}\n` : 'nothing to remove\n');
        return 0;
      }
      default:
        throw usageError(`unknown action "${action}"\n\n${HELP}`);
    }
  },
};
