import { MAX_TIMER_MS } from '../../common/timer-limit.ts';
import { between, defineCommand, positive } from '../options.ts';

export const demoSpec = defineCommand({
  name: 'demo',
  summary: 'broker + classifier + a generated live comment stream on this machine (npm start)',
  description: `The whole thing on one machine: a local Kafka broker (or $KAFKA_BROKERS /
$LIVETAG_KAFKA_BROKERS), the classifier service with the default model
($LIVETAG_MODEL, default models/default), and a producer replaying generated
live-commerce comments (or --file) at --rate per second. Tagged comments and
rolling throughput/latency print here; Prometheus metrics are at
http://127.0.0.1:$LIVETAG_HTTP_PORT/metrics (default 9464), and the host console
(\`livetag console\`) at http://127.0.0.1:--console-port/. Ctrl-C stops everything.
All LIVETAG_* settings of \`livetag serve\` apply.`,
  options: {
    rate: { type: 'number', default: 20, check: positive, help: 'comments produced per second' },
    file: { type: 'string', value: 'FILE', help: 'replay these comments (JSONL with "text", or text lines) instead of generated ones' },
    duration: { type: 'number', check: { test: (n) => n > 0 && n * 1000 <= MAX_TIMER_MS, text: `in (0, ${Math.floor(MAX_TIMER_MS / 1000)}]` }, value: 'S', help: 'stop after S seconds', defaultHelp: 'run until Ctrl-C' },
    quiet: { type: 'boolean', help: 'print only the throughput and latency lines' },
    'console-port': { type: 'integer', default: 9470, check: between(0, 65535), help: 'port of the host console on 127.0.0.1 (a free one when taken; 0 picks one)' },
  },
});
