import { existsSync } from 'node:fs';
import { announcePromotion } from '../../consumer/model-watcher.ts';
import { createKafkaClient } from '../../kafka/client.ts';
import { loadKafkaConnection } from '../../kafka/connection.ts';
import { resolveModelRef } from '../../model/registry/model-ref.ts';
import { createModelRegistry } from '../../model/registry/registry.ts';
import { createCommand, usageError } from '../command.ts';
import { modelsSpec } from '../specs/models.ts';

export const command = createCommand(modelsSpec, async ({ values, positionals }) => {
  const [action, arg] = positionals;
  // `rollback v7` would roll back to the previous version, not v7, and announce it to every replica.
  if (arg !== undefined && (action === 'list' || action === 'rollback' || action === 'prune')) {
    const instead = action === 'rollback' ? `; to serve ${arg}, \`livetag models promote ${arg}\`` : action === 'prune' ? `; to keep ${arg}, --keep ${arg}` : '';
    throw usageError(`${action} takes no argument (got "${arg}")${instead}`);
  }
  const registry = createModelRegistry(values.registry);
  const announce = async (id: string): Promise<void> => {
    if (!values.brokers) return;
    // Same TLS/SASL settings (LIVETAG_KAFKA_*) as the service, so secured clusters work too.
    const connection = loadKafkaConnection(process.env, { LIVETAG_KAFKA_BROKERS: values.brokers });
    const client = await createKafkaClient({ connection: { ...connection, clientId: 'livetag-models' }, logLevel: 'nothing' });
    await announcePromotion(client, values.topic, registry.root, id);
    process.stdout.write(`announced ${id} on ${values.topic}\n`);
  };
  switch (action) {
    case 'list': {
      const versions = await registry.list();
      // A mistyped --registry would otherwise look like an empty one.
      if (versions.length === 0) process.stderr.write(`livetag models: no versions in ${registry.root}${existsSync(registry.root) ? '' : ' (no such directory)'}\n`);
      for (const e of versions) {
        const m = e.manifest;
        const f1 = m.training?.metrics?.macro_f1;
        process.stdout.write(`${e.current ? '*' : ' '} ${e.id}  ${m.modelId}  ${m.labels.length} labels  ${m.createdAt}${f1 === undefined ? '' : `  macro-F1 ${f1.toFixed(3)}`}\n`);
      }
      return 0;
    }
    case 'publish': {
      if (!arg) throw usageError('publish needs a model (a bundle dir, a run dir or REGISTRY_DIR@VERSION)');
      process.stdout.write(`published ${await registry.publish(await resolveModelRef(arg))}\n`);
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
      const removed = await registry.prune(values.keep);
      process.stdout.write(removed.length ? `removed ${removed.join(', ')}\n` : 'nothing to remove\n');
      return 0;
    }
    default:
      throw usageError(`unknown action "${action}"`);
  }
});
