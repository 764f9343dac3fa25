/**
 * Plumbing for the reliability tests: the service in-process on either Kafka
 * adapter, Kafka's own Java producer (from the broker's jars), and the
 * broker's /metrics and probe answers.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { KafkaClient as KafkajsClient } from '../../helpers/kafkajs.ts';
import { createLogger } from '../../../src/common/logger.ts';
import { loadServeConfig } from '../../../src/consumer/config.ts';
import { createStreamService, type StreamService } from '../../../src/consumer/stream-service.ts';
import { resolveClasspath } from '../../../src/dev/broker-classpath.ts';
import { KAFKA_VERSION } from '../../../src/dev/local-broker.ts';
import { createKafkaClient } from '../../../src/kafka/client.ts';
import type { KafkaClient, KafkaClientName } from '../../../src/kafka/port.ts';
import { REPO_ROOT, tempDir } from '../../helpers/shared.ts';

export const ADAPTERS: readonly KafkaClientName[] = ['kafkajs', 'confluent'];

/** A port client of `name`, or why that adapter cannot run here (the confluent one is an optional native build). */
export async function portClientOrSkip(name: KafkaClientName, brokers: string): Promise<KafkaClient | string> {
  try {
    return await createKafkaClient({ connection: { client: name, brokers, clientId: `reliability-${name}` }, logLevel: 'nothing' });
  } catch (err) {
    return `the ${name} adapter cannot be loaded here: ${(err as Error).message}`;
  }
}

const STOP_DEADLINE_MS = 45_000;

/** The service in-process, stopped when the test ends; its logs kept for the test's diagnostics. */
export function inProcessService(t: TestContext, env: Record<string, string>): StreamService & { logs: string[] } {
  const logs: string[] = [];
  const logger = createLogger('info', {}, (line) => void logs.push(line));
  const svc = createStreamService(loadServeConfig(env), logger) as StreamService & { logs: string[] };
  Object.defineProperty(svc, 'logs', { value: logs });
  // A stop that never returns leaves handles open and the whole file hangs
  // with no result: fail here instead, with the service's last words.
  t.after(() => bounded(svc.stop().catch((err: unknown) => t.diagnostic(`service stop failed: ${String(err)}`)), STOP_DEADLINE_MS, () => `service stop; last log lines:\n${logs.slice(-20).join('\n')}`));
  return svc;
}

export async function httpGet(port: number, route: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${route}`);
  return { status: res.status, body: await res.text() };
}

/** The value of one sample in a Prometheus exposition (first match of name and label substring). */
export function sample(exposition: string, name: string, labels = ''): number | undefined {
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels && !rest.includes(labels)) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

const JAVA_PRODUCER = `
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public class CodecProducer {
  public static void main(String[] a) throws Exception {
    Properties p = new Properties();
    p.put("bootstrap.servers", a[0]);
    p.put("acks", "all");
    p.put("linger.ms", "20");
    p.put("key.serializer", StringSerializer.class.getName());
    p.put("value.serializer", StringSerializer.class.getName());
    int n = Integer.parseInt(a[3]);
    for (String codec : a[2].split(",")) {
      p.put("compression.type", codec);
      try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
        for (int i = 0; i < n; i++) {
          String text = "java " + codec + " comment " + i + " how much is this";
          producer.send(new ProducerRecord<>(a[1], "room-" + (i % 4), "{\\"id\\":\\"" + codec + "-" + i + "\\",\\"text\\":\\"" + text + "\\"}"));
        }
        producer.flush();
      }
      System.out.println("sent " + n + " " + codec);
    }
  }
}
`;

function javaBinary(): string {
  return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

/**
 * Kafka's own Java producer (kafka-clients from the broker's classpath, with
 * snappy-java, lz4-java and zstd-jni) writes `count` records with each codec in turn.
 */
export async function javaProduce(brokers: string, topic: string, codecs: readonly string[], count: number): Promise<void> {
  const cacheDir = process.env.LIVETAG_KAFKA_CACHE ?? path.join(REPO_ROOT, '.cache', 'kafka');
  const lib = await resolveClasspath(cacheDir, process.env.LIVETAG_KAFKA_VERSION ?? KAFKA_VERSION, { info: () => {} });
  const source = path.join(tempDir('livetag-java-'), 'CodecProducer.java');
  fs.writeFileSync(source, JAVA_PRODUCER);
  const child = spawn(javaBinary(), ['-cp', `${lib}/*`, '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', source, brokers, topic, codecs.join(','), String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0 || !codecs.every((c) => output.includes(`sent ${count} ${c}`))) throw new Error(`Java producer exited ${code}:\n${output.slice(-3000)}`);
}

/** Polls an async condition (an HTTP probe, a scrape) every 100 ms until it holds or `timeoutMs` passes. */
export async function eventually(predicate: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Awaits a cleanup step, failing (not hanging the file) when it takes longer than `ms`; its own rejection is ignored. */
export async function bounded(work: Promise<unknown>, ms: number, what: () => string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), ms)));
  const outcome = await Promise.race([work.then(() => 'done' as const, () => 'done' as const), late]);
  clearTimeout(timer);
  if (outcome === 'late') throw new Error(`did not finish in ${ms} ms: ${what()}`);
}

/**
 * A member with an assignor kafkajs does not offer holds `group`: the broker
 * answers kafkajs' JoinGroup with INCONSISTENT_GROUP_PROTOCOL, which is not
 * retriable, so a service in that group crashes for good and stalls.
 */
export async function squatGroup(t: TestContext, kafka: KafkajsClient, group: string, topic: string): Promise<void> {
  const squatter = kafka.consumer({
    groupId: group,
    partitionAssigners: [
      () => ({
        name: 'OtherAssigner',
        version: 1,
        protocol: () => ({ name: 'OtherAssigner', metadata: Buffer.alloc(0) }),
        assign: async () => [],
      }),
    ] as never,
  });
  await squatter.connect();
  await squatter.subscribe({ topics: [topic] });
  await squatter.run({ eachMessage: async () => {} });
  t.after(() => bounded(squatter.disconnect(), 20_000, () => "the squatter consumer's disconnect"));
}
