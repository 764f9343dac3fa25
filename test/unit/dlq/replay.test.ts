import assert from 'node:assert/strict';
import { test } from 'node:test';
import { main } from '../../../src/cli/main.ts';
import { DEAD_LETTER_HEADERS as DLH } from '../../../src/consumer/output-record.ts';
import { codeGroup, replayDeadLetters, type ReplayOptions } from '../../../src/dlq/replay.ts';
import type { ConsumedRecord, KafkaClient, OutgoingRecord, RecordBatch } from '../../../src/kafka/port.ts';
import { captureOutput } from '../../helpers/shared.ts';

/**
 * One partition of a dead-letter topic in memory, with the port's group
 * semantics the replay relies on: a consumer starts at its group's committed
 * offset (else the log's start) and commits nothing itself; the admin reads
 * and sets committed offsets. Batches of `batchSize`.
 */
function memoryKafka(codes: readonly string[], opts: { low?: number; batchSize?: number; sendMs?: number } = {}) {
  const low = opts.low ?? 0;
  const record = (code: string, i: number): ConsumedRecord => ({
    topic: 'dlq',
    partition: 0,
    offset: String(low + i),
    key: null,
    value: Buffer.from(JSON.stringify({ text: `t${low + i}` })),
    headers: { [DLH.code]: code, [DLH.sourceTopic]: 'in' },
    timestamp: '0',
  });
  const log: ConsumedRecord[] = codes.map(record);
  /** The topic deleted and created again with these dead letters (offsets from `low` again). */
  const recreate = (next: readonly string[]): void => void log.splice(0, log.length, ...next.map(record));
  const append = (more: readonly string[]): void => void log.push(...more.map((c, i) => record(c, log.length + i)));
  const committed = new Map<string, bigint>();
  const sent: OutgoingRecord[] = [];
  const client = {
    name: 'kafkajs',
    brokers: [],
    admin: {
      watermarks: async () => [{ partition: 0, low: String(low), high: String(low + log.length) }],
      committedOffsets: async (group: string) => [{ partition: 0, offset: String(committed.get(group) ?? -1n) }],
      setCommittedOffsets: async (group: string, _t: string, parts: Array<{ partition: number; offset: string }>) => void committed.set(group, BigInt(parts[0].offset)),
      deleteGroups: async (groups: string[]) => groups.forEach((g) => committed.delete(g)),
    },
    consumer: ({ groupId }: { groupId: string }) => {
      let stopped = false;
      let running: Promise<void> = Promise.resolve();
      return {
        on: () => () => undefined,
        pause: () => {},
        resume: () => {},
        start: async (each: (b: RecordBatch) => Promise<void>) => {
          let at = Number(committed.get(groupId) ?? BigInt(low)) - low;
          running = (async () => {
            while (!stopped && at < log.length) {
              const records = log.slice(at, at + (opts.batchSize ?? 2));
              at += records.length;
              await each({ topic: 'dlq', partition: 0, records, highWatermark: String(low + log.length), lastOffset: records[records.length - 1].offset, resolve: () => {}, commit: async () => {}, isCurrent: () => true, heartbeat: async () => {} });
            }
          })();
        },
        stop: async () => {
          stopped = true;
          await running;
        },
      };
    },
    producer: () => ({
      start: async () => {},
      stop: async () => {},
      transaction: async () => assert.fail('no transactions'),
      send: async (records: readonly OutgoingRecord[]) => {
        if (opts.sendMs) await new Promise((r) => setTimeout(r, opts.sendMs));
        sent.push(...records);
      },
    }),
  } as unknown as KafkaClient;
  const texts = (): string[] => sent.map((r) => JSON.parse(String(r.value)).text);
  return { client, committed, sent, texts, recreate, append };
}

const base = (client: KafkaClient, over: Partial<ReplayOptions> = {}): ReplayOptions => ({ client, from: 'dlq', codes: [], dryRun: false, groupId: 'replay', idleTimeoutMs: 2_000, ...over });

test('a replay filtered to one code passes over no other: a later run of another code, or of all, still finds them, and nothing goes back twice', async () => {
  const k = memoryKafka(['LT_MSG_INVALID', 'LT_INFERENCE', 'LT_MSG_INVALID', 'LT_INFERENCE', 'LT_MSG_BAD_JSON']);
  const invalid = await replayDeadLetters(base(k.client, { codes: ['LT_MSG_INVALID'] }));
  assert.deepEqual([invalid.read, invalid.replayed, invalid.skippedFilter], [5, 2, 3]);
  assert.deepEqual(k.texts(), ['t0', 't2']);
  assert.equal(k.committed.get('replay'), undefined, 'the all-codes progress did not move');
  assert.equal(k.committed.get(codeGroup('replay', 'LT_MSG_INVALID')), 5n);

  const again = await replayDeadLetters(base(k.client, { codes: ['LT_MSG_INVALID'] }));
  assert.equal(again.read, 0, 'the same filter again starts after the first');

  const inference = await replayDeadLetters(base(k.client, { codes: ['LT_INFERENCE'] }));
  assert.equal(inference.replayed, 2);
  const rest = await replayDeadLetters(base(k.client));
  assert.deepEqual([rest.read, rest.replayed, rest.skippedReplayed], [5, 1, 4], 'all codes: the one never replayed, not the four replayed by filtered runs');
  assert.deepEqual(k.texts().sort(), ['t0', 't1', 't2', 't3', 't4'], 'each once');
  assert.equal(k.committed.get('replay'), 5n);
  assert.equal((await replayDeadLetters(base(k.client, { codes: ['LT_MSG_BAD_JSON'] }))).read, 0, 'a filter after a full run starts at its end');
});

test('a send slower than the idle time is not a quiet topic: its progress is recorded and the next run sends nothing again', async () => {
  const k = memoryKafka(['LT_INFERENCE', 'LT_INFERENCE', 'LT_INFERENCE'], { batchSize: 3, sendMs: 300 });
  const r = await replayDeadLetters(base(k.client, { idleTimeoutMs: 100 }));
  assert.deepEqual([r.replayed, r.complete], [3, true]);
  assert.equal(k.committed.get('replay'), 3n);
  assert.equal((await replayDeadLetters(base(k.client, { idleTimeoutMs: 100 }))).replayed, 0);
  assert.equal(k.sent.length, 3);
});

test('progress past the end of the topic (it was deleted and recreated) reads the new log from its start and says so', async () => {
  const k = memoryKafka(['LT_INFERENCE', 'LT_INFERENCE']);
  k.committed.set('replay', 5000n);
  const r = await replayDeadLetters(base(k.client));
  assert.deepEqual([r.replayed, r.resetPartitions, r.complete], [2, 1, true]);
  const dry = await replayDeadLetters(base(memoryKafka(['LT_INFERENCE']).client, { dryRun: true }));
  assert.deepEqual([dry.replayed, dry.resetPartitions], [1, 0]);
});

test('after a recreated topic, every group\'s old progress is forgotten: once the new log grows past an old offset, nothing below it is passed over', async () => {
  const k = memoryKafka(['LT_INFERENCE', 'LT_INFERENCE', 'LT_INFERENCE', 'LT_INFERENCE', 'LT_INFERENCE', 'LT_INFERENCE']);
  assert.equal((await replayDeadLetters(base(k.client, { codes: ['LT_INFERENCE'] }))).replayed, 6);
  k.recreate(['LT_INFERENCE', 'LT_MSG_INVALID']);
  k.sent.length = 0;
  const after = await replayDeadLetters(base(k.client));
  assert.deepEqual([after.replayed, after.resetPartitions], [2, 1]);
  k.append(['LT_INFERENCE', 'LT_INFERENCE', 'LT_INFERENCE', 'LT_INFERENCE', 'LT_INFERENCE', 'LT_INFERENCE']);
  const grown = await replayDeadLetters(base(k.client));
  assert.deepEqual([grown.replayed, grown.skippedReplayed, grown.resetPartitions], [6, 0, 0], 'offsets 2–7 of the new log, none taken for replayed');
  assert.deepEqual(k.texts(), ['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7']);
});

test('a recreated topic found through one group makes every group stale there, even an offset the new log already holds', async () => {
  const k = memoryKafka(['LT_INFERENCE', 'LT_INFERENCE', 'LT_INFERENCE', 'LT_INFERENCE', 'LT_INFERENCE', 'LT_INFERENCE']);
  // From the old topic: all codes replayed to 10, LT_INFERENCE alone to 4.
  k.committed.set('replay', 10n);
  k.committed.set(codeGroup('replay', 'LT_INFERENCE'), 4n);
  const r = await replayDeadLetters(base(k.client));
  assert.deepEqual([r.replayed, r.skippedReplayed, r.resetPartitions], [6, 0, 1], 'the new log\'s offsets 0–3 are not taken for replayed');
  assert.equal(k.committed.get(codeGroup('replay', 'LT_INFERENCE')), 0n, 'written back');
  assert.equal(k.committed.get('replay'), 6n, 'this run\'s own progress stands');
  assert.equal((await replayDeadLetters(base(k.client))).replayed, 0, 'each once');
});

test('a dry run counts what the real run would replay, from where it would start, and records nothing', async () => {
  const k = memoryKafka(['LT_MSG_INVALID', 'LT_INFERENCE', 'LT_MSG_INVALID'], { low: 10 });
  k.committed.set(codeGroup('replay', 'LT_MSG_INVALID'), 11n);
  const dry = await replayDeadLetters(base(k.client, { dryRun: true }));
  assert.deepEqual([dry.read, dry.replayed, dry.skippedReplayed], [3, 2, 1]);
  assert.equal(k.sent.length, 0);
  assert.deepEqual([...k.committed.keys()].filter((g) => !g.includes('-reader-')), [codeGroup('replay', 'LT_MSG_INVALID')], 'no progress group moved');
});

test('livetag dlq replay refuses a --filter that is no error code (it would replay nothing), before connecting', async () => {
  for (const [filter, hint] of [['lt_msg_invalid', /did you mean LT_MSG_INVALID\?/], ['', /not an error code/], ['LT_MSG_INVLAID', /not an error code/]] as const) {
    const r = await captureOutput(() => main(['dlq', 'replay', '--from', 'dlq', '--filter', filter, '--brokers', '127.0.0.1:1']));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, hint);
  }
});
