/**
 * Shared plumbing for integration tests against a real broker. The broker
 * itself is started once per run by scripts/run-tests.ts (or is whatever
 * KAFKA_BROKERS points at), so tests only ever need its address.
 */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { createKafkaClient } from '../../../src/kafka/client.ts';
import type { KafkaClient as PortClient, KafkaClientName } from '../../../src/kafka/port.ts';
import { createKafka, deleteTopics, ensureTopics, withAdmin, type KafkaClient, type KafkaLogLevel } from '../../helpers/kafkajs.ts';

export function brokersFromEnv(): string {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    throw new Error(
      'KAFKA_BROKERS is not set. Run integration tests through `npm test`, which starts a local broker, ' +
        'or set KAFKA_BROKERS=host:port to use an existing cluster.',
    );
  }
  return brokers;
}

/** A name no other test, run or re-run will use, so tests never share state on a shared broker. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * kafkajs logs every retried "coordinator not available" at ERROR, which a
 * fresh broker answers while it creates __consumer_offsets: noise, since real
 * failures surface as thrown errors. LIVETAG_TEST_KAFKAJS_LOG=error|debug
 * brings the logs back when debugging.
 */
export function testKafka(clientId = 'livetag-test', brokers = brokersFromEnv()): KafkaClient {
  return createKafka({ brokers, clientId, logLevel: testLogLevel() });
}

function testLogLevel(): KafkaLogLevel {
  const level = process.env.LIVETAG_TEST_KAFKAJS_LOG;
  const known: readonly KafkaLogLevel[] = ['nothing', 'error', 'warn', 'info', 'debug'];
  return known.find((l) => l === level) ?? 'nothing';
}

/**
 * Creates a fresh topic and registers its deletion when the test ends, pass or
 * fail. Returns the topic name.
 */
export async function useTopic(
  t: TestContext,
  options: { prefix: string; partitions?: number; client?: KafkaClient; configs?: Record<string, string> },
): Promise<string> {
  const client = options.client ?? testKafka();
  const topic = uniqueName(options.prefix);
  await ensureTopics(client, [{ topic, partitions: options.partitions ?? 1, ...(options.configs ? { configs: options.configs } : {}) }]);
  t.after(async () => {
    await deleteTopics(client, [topic]).catch((err: unknown) => {
      // Cleanup must not turn a passing test red, but should not vanish either.
      t.diagnostic(`could not delete topic ${topic}: ${String(err)}`);
    });
  });
  return topic;
}

/**
 * A fresh consumer group id whose committed offsets are deleted when the test
 * ends. Disconnect the group's consumers in the test body (try/finally): a
 * group with live members cannot be deleted.
 */
export function useGroup(t: TestContext, prefix: string, client: KafkaClient = testKafka()): string {
  const groupId = uniqueName(prefix);
  t.after(async () => {
    await withAdmin(client, (admin) => admin.deleteGroups([groupId])).catch((err: unknown) => {
      // A group that never committed anything does not exist: nothing to clean.
      const groups = (err as { groups?: Array<{ errorCode: number }> }).groups;
      if (groups?.every((g) => g.errorCode === GROUP_ID_NOT_FOUND)) return;
      t.diagnostic(`could not delete group ${groupId}: ${String(err)}`);
    });
  });
  return groupId;
}

const GROUP_ID_NOT_FOUND = 69;

/** Resolves when `predicate` holds, polling; rejects with `what` after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One adapter's port client on the test broker, or why that adapter cannot be loaded here (the test's skip reason). */
export async function portClientOrSkipReason(name: KafkaClientName, clientId: string): Promise<PortClient | string> {
  // Only the optional librdkafka library missing is a reason to skip; a bad KAFKA_BROKERS, or
  // kafkajs (always installed) failing, is a failure like in every other integration test.
  const brokers = brokersFromEnv();
  try {
    return await createKafkaClient({ connection: { client: name, brokers, clientId }, logLevel: 'nothing' });
  } catch (err) {
    if (name === 'confluent' && /cannot be loaded/.test((err as Error).message)) return `the ${name} adapter cannot be loaded here: ${(err as Error).message}`;
    throw err;
  }
}
