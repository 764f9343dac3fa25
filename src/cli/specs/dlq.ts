import { MAX_TIMER_MS } from '../../common/timer-limit.ts';
import { between, defineCommand } from '../options.ts';

export const dlqSpec = defineCommand({
  name: 'dlq',
  summary: 'count dead letters, or replay them onto their input topic after a fix',
  usage: 'livetag dlq stats|replay --from <dlq-topic> [options]',
  description: `Reads a dead-letter topic up to its end as of the start.
  stats    dead letters by error code and source topic, incomplete copies, time span
  replay   writes each dead letter back (original key, value and headers, the
           dead-letter headers removed, livetag-replayed-from added) to --to or
           to the topic it came from. Progress is committed under --group after
           every batch, so each dead letter is replayed once across runs; a run
           with --filter keeps its progress per code (<group>.code.<CODE>), so
           it never passes over dead letters of other codes.
           Incomplete copies (a prefix of the value, or the original key or
           headers left out as too large) are skipped and counted as truncated.
Connection settings: the LIVETAG_KAFKA_* variables, as for serve.`,
  positionals: [{ name: 'action', required: true, choices: ['stats', 'replay'], help: 'what to do' }],
  options: {
    from: { type: 'string', required: true, env: 'LIVETAG_DLQ_TOPIC', value: 'TOPIC', help: 'dead-letter topic to read' },
    to: { type: 'string', value: 'TOPIC', help: "replay: topic to write to", defaultHelp: "each dead letter's source topic" },
    filter: { type: 'list', value: 'CODES', help: 'replay: only dead letters with these error codes (e.g. LT_MSG_INVALID)', defaultHelp: 'all' },
    'dry-run': { type: 'boolean', help: 'replay: count what would be replayed; write and commit nothing' },
    group: { type: 'string', default: 'livetag-dlq-replay', value: 'ID', help: 'replay: consumer group that remembers how far replays got' },
    brokers: { type: 'string', env: 'LIVETAG_KAFKA_BROKERS', value: 'B', help: 'Kafka brokers' },
    'idle-timeout-ms': { type: 'integer', default: 15000, check: between(1, MAX_TIMER_MS), help: 'give up when nothing arrives for this long before the end' },
    json: { type: 'boolean', help: 'print the report as JSON' },
  },
});
