import { between, defineCommand } from '../options.ts';

export const consoleSpec = defineCommand({
  name: 'console',
  summary: 'live web page of what the audience is asking, read from the tagged topic',
  description: `Reads the output topic (its own consumer group, from the latest offsets unless
--from-beginning) and serves one read-only page pushed live over Server-Sent
Events: per tag the count over the last 1 and 5 minutes with a per-minute
sparkline, the newest questions with repeats collapsed, a room filter.
Binds to loopback unless --host says otherwise; with a token (--token or
$LIVETAG_CONSOLE_TOKEN) open /?token=… once, or send Authorization: Bearer ….
Kafka is reached through the LIVETAG_KAFKA_* settings (or $KAFKA_BROKERS).`,
  options: {
    topic: { type: 'string', required: true, env: 'LIVETAG_OUTPUT_TOPIC', value: 'TOPIC', help: 'the tagged topic to read' },
    port: { type: 'integer', default: 9470, check: between(0, 65535), help: 'HTTP port (0 picks a free one)' },
    host: { type: 'string', default: '127.0.0.1', value: 'HOST', help: 'address to bind; anything but loopback exposes audience comments to the network' },
    token: { type: 'string', env: 'LIVETAG_CONSOLE_TOKEN', value: 'TOKEN', help: 'bearer token required of every request ($LIVETAG_CONSOLE_TOKEN)', defaultHelp: 'none' },
    group: { type: 'string', value: 'GROUP', help: 'consumer group id', defaultHelp: 'a fresh livetag-console-… group' },
    'from-beginning': { type: 'boolean', help: 'read the topic from its start instead of from now' },
  },
});
