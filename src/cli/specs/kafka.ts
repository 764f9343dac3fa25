import { between, defineCommand } from '../options.ts';

export const kafkaSpec = defineCommand({
  name: 'kafka',
  summary: 'run a local single-node Kafka broker for development and tests',
  description: `Runs a single-node Kafka (KRaft) on 127.0.0.1 until SIGINT/SIGTERM.
Needs Java 17+ and Maven; the broker's jars are fetched into .cache/kafka once.
Prints KAFKA_BROKERS=127.0.0.1:PORT on stdout when the broker is ready.
--secure: a SASL_SSL listener (SCRAM-SHA-512 users, certificates made on the
fly, ACLs giving the service user 'livetag' only livetag* topics, groups and
transactional ids); --env-file writes that user's LIVETAG_KAFKA_* settings.`,
  positionals: [{ name: 'subcommand', required: true, choices: ['start'], help: 'start: run the broker' }],
  options: {
    dir: { type: 'string', value: 'DIR', help: 'data directory, kept across runs', defaultHelp: 'a temp dir removed on exit' },
    port: { type: 'integer', check: between(1, 65535), help: 'client port', defaultHelp: 'a free port' },
    secure: { type: 'boolean', help: 'SASL_SSL + SCRAM-SHA-512 + ACLs instead of PLAINTEXT' },
    mtls: { type: 'boolean', help: 'with --secure: also require client certificates (mutual TLS)' },
    'env-file': { type: 'string', value: 'PATH', help: 'with --secure: write the client settings there (a shell can source it)' },
  },
});
