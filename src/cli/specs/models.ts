import { defineCommand, positive } from '../options.ts';
import { MODEL_VALUE } from './model-option.ts';

export const modelsSpec = defineCommand({
  name: 'models',
  summary: 'list, publish, promote, roll back and prune model registry versions',
  usage: `livetag models list|publish ${MODEL_VALUE}|promote <id>|rollback|prune [options]`,
  description: `Manages the model registry:
  list              versions, the current one marked *
  publish ${MODEL_VALUE.padEnd(9)} copy a verified model in as versions/<its version>
  promote <id>      make <id> current (atomically), then announce it
  rollback          make the previously promoted version current again, then announce it
  prune --keep N    delete all but the newest N versions (never current or the rollback target)
Promotions are announced on the compacted topic --topic when --brokers is given;
serving replicas also poll the registry.`,
  positionals: [
    { name: 'action', required: true, choices: ['list', 'publish', 'promote', 'rollback', 'prune'], help: 'what to do' },
    { name: 'arg', help: `publish: the model (a bundle dir, a run dir or REGISTRY_DIR@VERSION); promote: a version id` },
  ],
  options: {
    registry: { type: 'string', env: 'LIVETAG_REGISTRY', default: 'models/registry', value: 'DIR', help: 'registry root' },
    keep: { type: 'integer', default: 5, check: positive, help: 'versions prune keeps' },
    brokers: { type: 'string', env: 'LIVETAG_KAFKA_BROKERS', value: 'B', help: 'Kafka brokers to announce promotions on; none: no announcement' },
    topic: { type: 'string', env: 'LIVETAG_MODEL_TOPIC', default: 'livetag.models', value: 'T', help: 'compacted topic promotions are announced on' },
  },
  exitCodes: {
    LT_REGISTRY_NO_ROLLBACK: { status: 2, help: 'rollback with no earlier promotion to go back to' },
  },
});
