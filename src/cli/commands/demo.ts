import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createLogger } from '../../common/logger.ts';
import { loadServeConfig } from '../../consumer/config.ts';
import { createConsoleService, type ConsoleService } from '../../console/console-service.ts';
import { OutputMessageSchema } from '../../consumer/output-record.ts';
import { createStreamService } from '../../consumer/stream-service.ts';
import { createCommentGenerator } from '../../demo/comment-generator.ts';
import { createKafkaClient } from '../../kafka/client.ts';
import type { KafkaClient } from '../../kafka/port.ts';
import { isLivetagError } from '../../common/errors.ts';
import { createLocalBroker, type LocalBroker } from '../../dev/local-broker.ts';
import { createCommand, requireFile, usageError } from '../command.ts';
import { demoSpec } from '../specs/demo.ts';

async function* fileComments(path: string): AsyncGenerator<{ text: string; room?: string }> {
  for (;;) {
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    let any = false;
    for await (const line of lines) {
      const trimmed = line.trim();
      if (!trimmed) continue;
      let comment: { text: string; room?: string } | undefined = { text: trimmed };
      if (trimmed.startsWith('{')) {
        try {
          const o = JSON.parse(trimmed) as { text?: unknown; room?: unknown };
          comment = typeof o.text === 'string' ? { text: o.text, ...(typeof o.room === 'string' ? { room: o.room } : {}) } : undefined;
        } catch {
          // Replayed as is: the service dead-letters it.
        }
      }
      if (!comment) continue;
      // Only what is sent counts: a file of JSON lines without a string "text" would otherwise be re-read for ever.
      any = true;
      yield comment;
    }
    if (!any) throw usageError(`${path} has no comments (plain lines, or JSON lines with a string "text")`);
  }
}

async function* generated(): AsyncGenerator<{ text: string; room: string; user: string }> {
  const gen = createCommentGenerator({ seed: Date.now() % 100000 });
  for (;;) {
    const c = gen.next();
    yield { text: c.text, room: c.room, user: c.user };
  }
}

type Out = (line: string) => void;

/** The host console beside the demo, on loopback; a taken port falls back to a free one rather than failing the demo. */
async function startConsole(client: KafkaClient, topic: string, port: number): Promise<ConsoleService> {
  const make = (p: number) => createConsoleService({ topic, host: '127.0.0.1', port: p, kafka: client, groupId: `livetag-demo-console-${Date.now()}` });
  const first = make(port);
  try {
    await first.start();
    return first;
  } catch (err) {
    await first.stop();
    if (port === 0 || !isLivetagError(err, 'LT_CONFIG_INVALID')) throw err;
    const second = make(0);
    await second.start();
    return second;
  }
}

/** A local broker unless brokers are configured, the serve config with demo topics, and topics created. */
async function setUp(out: Out) {
  const t0 = Date.now();
  let broker: LocalBroker | undefined;
  let brokers = process.env.LIVETAG_KAFKA_BROKERS ?? process.env.KAFKA_BROKERS;
  // Until the demo's own handlers are in place, a signal or a failed step stops the broker
  // started here: a JVM left running would keep the process alive, its data in a temp dir.
  const early = (): void => {
    out('\nstopping…');
    void (broker?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', early);
  process.once('SIGTERM', early);
  try {
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
    const client = await createKafkaClient({ connection: { ...config.kafka, clientId: 'livetag-demo' }, logLevel: 'nothing' });
    await client.admin.ensureTopics([config.topics.input, config.topics.output, config.topics.deadLetter].map((topic) => ({ topic, partitions: 3 })));
    return { broker, config, client };
  } catch (err) {
    await broker?.stop().catch(() => undefined);
    throw err;
  } finally {
    process.off('SIGINT', early);
    process.off('SIGTERM', early);
  }
}

export const command = createCommand(demoSpec, async ({ values }) => {
  const rate = values.rate;
  // Before a broker starts (minutes on a first run), not after.
  if (values.file !== undefined) requireFile(values.file, '--file');
  const out: Out = (s) => void process.stdout.write(s + '\n');
  const { broker, config, client } = await setUp(out);
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

  const viewer = client.consumer({ groupId: `livetag-demo-viewer-${Date.now()}`, topics: [config.topics.output], fromBeginning: false, maxWaitMs: 50 });
  const producer = client.producer();
  const window: { at: number; latency: number }[] = [];
  let shown = 0;
  let lastShown = 0;
  let hostConsole: ConsoleService | undefined;
  let stats: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  try {
    await service.start();
    out(`classifier serving ${config.model.path} · metrics at http://${config.http.host}:${service.httpPort}/metrics`);
    hostConsole = await startConsole(client, config.topics.output, values['console-port']);
    out(`console at ${hostConsole.url}`);
    await viewer.start(async (batch) => {
      for (const record of batch.records) {
        let value: unknown;
        try {
          value = JSON.parse(record.value?.toString('utf8') ?? 'null');
        } catch {
          value = undefined; // a foreign record on a shared topic: not ours to show
        }
        const parsed = OutputMessageSchema.safeParse(value);
        batch.resolve(record.offset);
        if (!parsed.success) continue;
        const m = parsed.data;
        const now = Date.now();
        window.push({ at: now, latency: now - m.timing.producedAt });
        // Print at most ~10 lines a second so the terminal stays readable at any rate.
        if (!values.quiet && now - lastShown >= 100) {
          lastShown = now;
          shown++;
          const tags = m.tags.length ? m.tags.map((t) => `${t.label} ${t.score.toFixed(2)}`).join(', ') : '—';
          out(`  ${m.text.slice(0, 30).padEnd(30)}  →  ${tags}`);
        }
      }
    });
    await producer.start();
    const source = values.file ? fileComments(values.file) : generated();
    stats = setInterval(() => {
      const now = Date.now();
      while (window.length && window[0].at < now - 10_000) window.shift();
      const lat = window.map((w) => w.latency).sort((a, b) => a - b);
      const p = (q: number): number => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? 0;
      out(`[${new Date().toISOString().slice(11, 19)}] ${(window.length / 10).toFixed(1)} msg/s · end-to-end p50 ${p(0.5)} ms · p99 ${p(0.99)} ms (last 10 s)`);
    }, 2000);
    deadline = values.duration ? setTimeout(requestStop, values.duration * 1000) : undefined;
    const interval = 1000 / rate;
    let next = Date.now();
    for await (const c of source) {
      if (stopping) break;
      await producer.send([{ topic: config.topics.input, key: (c as { room?: string }).room ?? null, value: JSON.stringify(c) }]);
      next += interval;
      const wait = next - Date.now();
      if (wait > 0) await Promise.race([new Promise((r) => setTimeout(r, wait)), stop]);
    }
  } finally {
    // Here, not after the loop: a send that fails (the broker gone) must not leave them keeping the process alive.
    clearInterval(stats);
    clearTimeout(deadline);
    await producer.stop().catch(() => undefined);
    await viewer.stop().catch(() => undefined);
    await hostConsole?.stop();
    await service.stop();
    await broker?.stop();
  }
  out(`stopped cleanly (${shown} comments shown)`);
  return 0;
});
