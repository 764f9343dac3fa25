import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createLogger } from '../../common/logger.ts';
import { loadServeConfig } from '../../consumer/config.ts';
import { createStreamService } from '../../consumer/stream-service.ts';
import { createCommentGenerator } from '../../demo/comment-generator.ts';
import { createKafka, ensureTopics } from '../../kafka/kafka-client.ts';
import { createLocalBroker, type LocalBroker } from '../../kafka/local-broker.ts';
import { usageError, type Command } from '../main.ts';

const HELP = `usage: livetag demo [--rate N] [--file comments.jsonl|.txt] [--duration S] [--quiet]

The whole thing on one machine: a local Kafka broker (or $KAFKA_BROKERS /
$LIVETAG_KAFKA_BROKERS), the classifier service with the default model
($LIVETAG_MODEL, default models/default), and a producer replaying generated
live-commerce comments (or --file) at --rate per second (default 20). Tagged
comments and rolling throughput/latency print here; Prometheus metrics are at
http://127.0.0.1:$LIVETAG_HTTP_PORT/metrics (default 9464). Ctrl-C stops everything.
All LIVETAG_* settings of \`livetag serve\` apply.`;

async function* fileComments(path: string): AsyncGenerator<{ text: string; room?: string }> {
  for (;;) {
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    let any = false;
    for await (const line of lines) {
      const trimmed = line.trim();
      if (!trimmed) continue;
      any = true;
      if (trimmed.startsWith('{')) {
        try {
          const o = JSON.parse(trimmed) as { text?: unknown; room?: unknown };
          if (typeof o.text === 'string') yield { text: o.text, ...(typeof o.room === 'string' ? { room: o.room } : {}) };
        } catch {
          yield { text: trimmed }; // replayed as is: the service dead-letters it
        }
      } else yield { text: trimmed };
    }
    if (!any) throw usageError(`${path} has no comments`);
  }
}

async function* generated(): AsyncGenerator<{ text: string; room: string; user: string }> {
  const gen = createCommentGenerator({ seed: Date.now() % 100000 });
  for (;;) {
    const c = gen.next();
    yield { text: c.text, room: c.room, user: c.user };
  }
}

export const command: Command = {
  summary: 'run broker + classifier + a live comment stream on this machine',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        rate: { type: 'string', default: '20' },
        file: { type: 'string' },
        duration: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const rate = Number(values.rate);
    if (!(rate > 0)) throw usageError('--rate must be a positive number');
    const out = (s: string): void => void process.stdout.write(s + '\n');
    const t0 = Date.now();

    let broker: LocalBroker | undefined;
    let brokers = process.env.LIVETAG_KAFKA_BROKERS ?? process.env.KAFKA_BROKERS;
    if (!brokers) {
      out('starting a local Kafka broker (the first run downloads it with Maven; later runs take seconds)…');
      broker = createLocalBroker({ logger: { info: () => undefined, warn: (m) => out(`kafka: ${m}`) } });
      await broker.start();
      brokers = broker.brokers;
      out(`Kafka ready at ${brokers} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
    const config = loadServeConfig(process.env, {
      LIVETAG_KAFKA_BROKERS: brokers,
      LIVETAG_INPUT_TOPIC: process.env.LIVETAG_INPUT_TOPIC ?? 'livetag.demo.comments',
      LIVETAG_OUTPUT_TOPIC: process.env.LIVETAG_OUTPUT_TOPIC ?? 'livetag.demo.tags',
      LIVETAG_DLQ_TOPIC: process.env.LIVETAG_DLQ_TOPIC ?? 'livetag.demo.dead-letter',
      LIVETAG_GROUP_ID: process.env.LIVETAG_GROUP_ID ?? 'livetag-demo',
      LIVETAG_HTTP_HOST: process.env.LIVETAG_HTTP_HOST ?? '127.0.0.1',
    });
    const client = createKafka({ brokers, clientId: 'livetag-demo', logLevel: 'nothing' });
    await ensureTopics(client, [config.topics.input, config.topics.output, config.topics.deadLetter].map((topic) => ({ topic, partitions: 3 })));
    const service = createStreamService(config, createLogger(process.env.LIVETAG_LOG_LEVEL === 'debug' ? 'debug' : 'warn', { component: 'serve' }));

    let stopping = false;
    let signalled!: () => void;
    const stop = new Promise<void>((r) => (signalled = r));
    const requestStop = (): void => {
      stopping = true;
      signalled();
    };
    const onSignal = (): void => {
      if (stopping) process.exit(130);
      out('\nstopping…');
      requestStop();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    const viewer = client.consumer({ groupId: `livetag-demo-viewer-${Date.now()}`, maxWaitTimeInMs: 50 });
    const producer = client.producer();
    const window: { at: number; latency: number }[] = [];
    let shown = 0;
    let lastShown = 0;
    try {
      await service.start();
      out(`classifier serving ${config.model.path} · metrics at http://${config.http.host}:${service.httpPort}/metrics`);
      await viewer.connect();
      await viewer.subscribe({ topics: [config.topics.output], fromBeginning: false });
      await viewer.run({
        eachMessage: async ({ message }) => {
          const m = JSON.parse(message.value!.toString('utf8')) as { text: string; tags: { label: string; score: number }[]; timing: { producedAt: number } };
          const now = Date.now();
          window.push({ at: now, latency: now - m.timing.producedAt });
          // Print at most ~10 lines a second so the terminal stays readable at any rate.
          if (!values.quiet && now - lastShown >= 100) {
            lastShown = now;
            shown++;
            const tags = m.tags.length ? m.tags.map((t) => `${t.label} ${t.score.toFixed(2)}`).join(', ') : '—';
            out(`  ${m.text.slice(0, 30).padEnd(30)}  →  ${tags}`);
          }
        },
      });
      await producer.connect();
      const source = values.file ? fileComments(values.file) : generated();
      const stats = setInterval(() => {
        const now = Date.now();
        while (window.length && window[0].at < now - 10_000) window.shift();
        const lat = window.map((w) => w.latency).sort((a, b) => a - b);
        const p = (q: number): number => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? 0;
        out(`[${new Date().toISOString().slice(11, 19)}] ${(window.length / 10).toFixed(1)} msg/s · end-to-end p50 ${p(0.5)} ms · p99 ${p(0.99)} ms (last 10 s)`);
      }, 2000);
      const deadline = values.duration ? setTimeout(requestStop, Number(values.duration) * 1000) : undefined;
      const interval = 1000 / rate;
      let next = Date.now();
      for await (const c of source) {
        if (stopping) break;
        await producer.send({ topic: config.topics.input, messages: [{ key: (c as { room?: string }).room ?? null, value: JSON.stringify(c) }] });
        next += interval;
        const wait = next - Date.now();
        if (wait > 0) await Promise.race([new Promise((r) => setTimeout(r, wait)), stop]);
      }
      clearInterval(stats);
      if (deadline) clearTimeout(deadline);
    } finally {
      await producer.disconnect().catch(() => undefined);
      await viewer.disconnect().catch(() => undefined);
      await service.stop();
      await broker?.stop();
    }
    out(`stopped cleanly (${shown} comments shown)`);
    return 0;
  },
};
