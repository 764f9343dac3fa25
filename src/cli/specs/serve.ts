import { defineCommand } from '../options.ts';

export const serveSpec = defineCommand({
  name: 'serve',
  summary: 'run the Kafka stream classifier (configured by LIVETAG_* variables)',
  description: `Runs the stream classifier: reads comments from Kafka, tags them with the model
bundle, publishes tags (and dead letters), serves /metrics, /healthz, /readyz.
SIGTERM/SIGINT drains and commits within LIVETAG_DRAIN_TIMEOUT_MS; a second signal exits at once.`,
  options: {
    'print-config-reference': { type: 'boolean', help: 'print the table of LIVETAG_* settings and exit' },
  },
});
