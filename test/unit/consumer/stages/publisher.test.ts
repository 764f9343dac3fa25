import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLivetagError, LivetagError } from '../../../../src/common/errors.ts';
import type { Logger } from '../../../../src/common/logger.ts';
import { createServeMetrics } from '../../../../src/consumer/metrics.ts';
import { recordBytes, type OutRecord } from '../../../../src/consumer/output-record.ts';
import { createCommitter } from '../../../../src/consumer/stages/committer.ts';
import { createPublisher } from '../../../../src/consumer/stages/publisher.ts';
import type { KafkaAdminSession, KafkaClient, KafkaProducer, KafkaTransaction, ProducerOptions, RecordBatch } from '../../../../src/kafka/port.ts';

/** Warnings and errors with their fields, as the service's logger would print them. */
function recordingLogger(lines: string[]): Logger {
  const line = (msg: string, fields?: Record<string, unknown>) => void lines.push(`${msg} ${JSON.stringify(fields ?? {})}`);
  const logger: Logger = { debug: () => {}, info: () => {}, warn: line, error: line, child: () => logger };
  return logger;
}

/**
 * A client whose transactions commit only after `commitMs`, or once `done()` holds: the shape of a
 * library call that hangs. A condition, not a time, where the test counts what happened meanwhile:
 * a stalled test process would otherwise fit fewer timer ticks into the same wall time.
 */
function slowCommitClient(commitMs: number | (() => boolean), calls: string[]): KafkaClient {
  const finished = (r: () => void): void => {
    if (typeof commitMs === 'number') setTimeout(() => (calls.push('commit'), r()), commitMs);
    else {
      const poll = setInterval(() => commitMs() && (clearInterval(poll), calls.push('commit'), r()), 5);
    }
  };
  const transaction = async (): Promise<KafkaTransaction> => ({
    send: async () => void calls.push('send'),
    sendOffsets: async () => void calls.push('sendOffsets'),
    commit: () => new Promise<void>(finished),
    abort: async () => void calls.push('abort'),
  });
  const producer: KafkaProducer = { start: async () => {}, send: async () => {}, transaction, stop: async () => {} };
  return { name: 'kafkajs', brokers: ['127.0.0.1:9'], producer: () => producer } as unknown as KafkaClient;
}

const batch: RecordBatch = {
  topic: 'in',
  partition: 3,
  records: [],
  highWatermark: '10',
  lastOffset: '9',
  resolve: () => {},
  commit: async () => {},
  isCurrent: () => true,
  heartbeat: async () => {},
};
const out: OutRecord = { topic: 'out', key: null, value: '{}', headers: {}, kind: 'tags', producedAt: Date.now() };

test('a Kafka call that runs past slowCallMs is logged by name and position, repeatedly, and the chunk still completes', async () => {
  const lines: string[] = [];
  const calls: string[] = [];
  const slowLines = () => lines.filter((l) => l.startsWith('Kafka call still running: committing a transaction '));
  const t0 = performance.now();
  const publisher = createPublisher({
    // Past 3 s the call ends anyway, so a logger that stopped repeating fails the count instead of hanging the suite.
    client: slowCommitClient(() => slowLines().length >= 3 || performance.now() - t0 > 3_000, calls),
    delivery: 'exactly-once',
    transactionalId: 'txn',
    groupId: 'g',
    committer: createCommitter(),
    metrics: createServeMetrics(),
    logger: recordingLogger(lines),
    slowCallMs: 50,
  });
  await publisher.start();
  await publisher.deliver([out], { batch, lastOffset: '9', nextOffset: '10' });
  assert.deepEqual(calls, ['send', 'sendOffsets', 'commit']);
  const slow = slowLines();
  const took = performance.now() - t0;
  assert.ok(slow.length >= 3 && slow.length <= 5, `logged ${slow.length} times, every 50 ms, by a call that ends after the third: ${JSON.stringify(lines)}`);
  // Three lines, each a full interval after the last: a stall only lengthens this.
  assert.ok(took >= 145, `three lines in ${took.toFixed(0)} ms: not every 50 ms`);
  assert.deepEqual(JSON.parse(slow[0].slice(slow[0].indexOf('{'))), { topic: 'in', partition: 3, nextOffset: '10', seconds: 0 });
  assert.ok(!lines.some((l) => /sending/.test(l)), 'the quick calls are not reported');

  // Once the calls are quick, nothing is logged.
  const before = lines.length;
  const quick = createPublisher({ client: slowCommitClient(0, []), delivery: 'exactly-once', transactionalId: 'txn', groupId: 'g', committer: createCommitter(), metrics: createServeMetrics(), logger: recordingLogger(lines), slowCallMs: 50 });
  await quick.start();
  await quick.deliver([out], { batch, lastOffset: '9', nextOffset: '10' });
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(lines.length, before, 'no timer outlives its call');
});

/**
 * A client whose first transaction's commit fails; the next `downFor`
 * producer starts fail (the broker cannot be asked), the first `readFailures`
 * reads of the group's committed offset fail, and then it reads `offsets` in
 * turn (the last one from then on). Reads go through admin sessions, counted
 * in `sessions`; the per-call admin is not there to be used.
 */
function failedCommitClient(o: { downFor: number; offsets: string[]; calls: string[]; readFailures?: number; sessions?: { opened: number; closed: number; reads: number } }): KafkaClient {
  let txns = 0;
  let starts = 0;
  let reads = 0;
  const transaction = async (): Promise<KafkaTransaction> => {
    const n = ++txns;
    return {
      send: async () => {},
      sendOffsets: async () => {},
      commit: async () => {
        if (n === 1) throw new Error('commit transaction: request timed out');
        o.calls.push('commit');
      },
      abort: async () => void o.calls.push('abort'),
    };
  };
  const producer = (): KafkaProducer => ({
    start: async () => {
      if (starts++ > 0 && starts <= o.downFor + 1) throw new Error('connect ECONNREFUSED');
      if (starts > 1) o.calls.push('renewed');
    },
    send: async () => {},
    transaction,
    stop: async () => void o.calls.push('stopped'),
  });
  let failedReads = 0;
  const sessions = o.sessions ?? { opened: 0, closed: 0, reads: 0 };
  const committedOffsets = async () => {
    sessions.reads++;
    if (failedReads < (o.readFailures ?? 0)) throw new Error(`read ${++failedReads}: request timed out`);
    return [{ partition: 3, offset: o.offsets[Math.min(reads++, o.offsets.length - 1)] }];
  };
  return { name: 'kafkajs', brokers: ['127.0.0.1:9'], producer, openAdminSession: () => adminSession(committedOffsets, sessions) } as unknown as KafkaClient;
}

function adminSession(committedOffsets: () => Promise<Array<{ partition: number; offset: string }>>, sessions = { opened: 0, closed: 0 }): KafkaAdminSession {
  sessions.opened++;
  let closed = false;
  return {
    watermarks: async () => [],
    committedOffsets: () => (closed ? Promise.reject(new Error('read on a closed session')) : committedOffsets()),
    close: async () => {
      if (!closed) sessions.closed++;
      closed = true;
    },
  };
}

const eosPublisher = (client: KafkaClient, lines: string[]) =>
  createPublisher({ client, delivery: 'exactly-once', transactionalId: 'txn', groupId: 'g', committer: createCommitter(), metrics: createServeMetrics(), logger: recordingLogger(lines) });

test('a failed commit whose outcome cannot be learned yet: the publisher asks until the broker answers, and a commit that landed (its marker late) is not redelivered', async () => {
  const lines: string[] = [];
  const calls: string[] = [];
  const sessions = { opened: 0, closed: 0, reads: 0 };
  // Two renewals fail; then the group first shows the old offset (the marker not there yet), then the chunk's.
  const publisher = eosPublisher(failedCommitClient({ downFor: 2, offsets: ['7', '7', '10'], calls, sessions }), lines);
  await publisher.start();
  await publisher.deliver([out], { batch, lastOffset: '9', nextOffset: '10' });
  const asked = lines.filter((l) => l.startsWith('the outcome of the failed commit is not known yet'));
  assert.equal(asked.length, 2, JSON.stringify(lines));
  assert.deepEqual(JSON.parse(asked[1].slice(asked[1].indexOf('{'))).attempt, 2);
  assert.ok(lines.some((l) => l.startsWith('the commit reported a failure, yet the group shows the chunk committed')), JSON.stringify(lines));
  // The failed producer, then each producer whose start failed, is stopped: nothing is left connected.
  assert.deepEqual(calls, ['abort', 'stopped', 'stopped', 'stopped', 'renewed']);
  // The three reads through the marker's delay share one connection, closed after.
  assert.deepEqual(sessions, { opened: 1, closed: 1, reads: 3 });
  await publisher.stop();
});

test('a failed commit that did not land is redelivered (deliver rejects) once the group shows the old offset past the marker wait; stop ends the asking', async () => {
  const lines: string[] = [];
  const calls: string[] = [];
  const sessions = { opened: 0, closed: 0, reads: 0 };
  const notLanded = eosPublisher(failedCommitClient({ downFor: 0, offsets: ['7'], calls, sessions }), lines);
  await notLanded.start();
  const t0 = Date.now();
  await assert.rejects(notLanded.deliver([out], { batch, lastOffset: '9', nextOffset: '10' }), /request timed out/);
  assert.ok(Date.now() - t0 >= 4_900, 'the old offset was read again through the marker wait');
  assert.ok(sessions.reads >= 20, `read often through the wait: ${sessions.reads}`);
  assert.deepEqual([sessions.opened, sessions.closed], [1, 1], 'on one connection, closed after');
  await notLanded.stop();

  // The broker never answers: stop() ends the asking and the chunk stays unsettled.
  const away = eosPublisher(failedCommitClient({ downFor: 1_000, offsets: ['7'], calls: [] }), lines);
  await away.start();
  const delivering = away.deliver([out], { batch, lastOffset: '9', nextOffset: '10' });
  await new Promise((r) => setTimeout(r, 700));
  await away.stop();
  await assert.rejects(delivering, /request timed out/);
});

test('a refusal while asking for the outcome (LT_KAFKA_DENIED) fails the chunk with that cause instead of asking forever', async () => {
  const lines: string[] = [];
  const client = failedCommitClient({ downFor: 0, offsets: ['7'], calls: [] });
  const denied = async () => Promise.reject(new LivetagError('LT_KAFKA_DENIED', 'cannot read committed offsets of g: GROUP_AUTHORIZATION_FAILED'));
  const publisher = eosPublisher({ ...client, openAdminSession: () => adminSession(denied) } as unknown as KafkaClient, lines);
  await publisher.start();
  await assert.rejects(publisher.deliver([out], { batch, lastOffset: '9', nextOffset: '10' }), (err: unknown) => isLivetagError(err, 'LT_KAFKA_DENIED'));
  assert.ok(!lines.some((l) => l.startsWith('the outcome of the failed commit is not known yet')), JSON.stringify(lines));
  await publisher.stop();
});

test('a transaction that failed before its commit was sent is redelivered at once, without asking the group', async () => {
  const lines: string[] = [];
  let reads = 0;
  const producer: KafkaProducer = {
    start: async () => {},
    send: async () => {},
    transaction: async () => ({ send: async () => Promise.reject(new Error('send: broker went away')), sendOffsets: async () => {}, commit: async () => {}, abort: async () => {} }),
    stop: async () => {},
  };
  const client = { name: 'kafkajs', brokers: ['127.0.0.1:9'], producer: () => producer, openAdminSession: () => adminSession(async () => (reads++, [{ partition: 3, offset: '10' }])) } as unknown as KafkaClient;
  const publisher = eosPublisher(client, lines);
  await publisher.start();
  await assert.rejects(publisher.deliver([out], { batch, lastOffset: '9', nextOffset: '10' }), /broker went away/);
  assert.equal(reads, 0, 'the committed offset was not read');
  await publisher.stop();
});

test('stop() reaches a replacement producer that is still starting: it is stopped, never used, and the chunk fails as stopped', async () => {
  const calls: string[] = [];
  let made = 0;
  let release!: () => void;
  const started = new Promise<void>((r) => (release = r));
  const producer = (): KafkaProducer => {
    const n = ++made;
    return {
      // The replacement's connect hangs (a broker away), and then completes after all.
      start: async () => (n === 1 ? undefined : (calls.push(`start ${n}`), started)),
      send: async () => {},
      transaction: async () => {
        calls.push(`transaction ${n}`);
        return { send: async () => Promise.reject(new Error('send: broker went away')), sendOffsets: async () => {}, commit: async () => {}, abort: async () => {} };
      },
      stop: async () => void calls.push(`stop ${n}`),
    };
  };
  const publisher = eosPublisher({ name: 'kafkajs', brokers: ['127.0.0.1:9'], producer } as unknown as KafkaClient, []);
  await publisher.start();
  await assert.rejects(publisher.deliver([out], { batch, lastOffset: '9', nextOffset: '10' }), /broker went away/);
  const delivering = publisher.deliver([out], { batch, lastOffset: '9', nextOffset: '10' });
  for (const t0 = Date.now(); !calls.includes('start 2'); await new Promise((r) => setTimeout(r, 1))) assert.ok(Date.now() - t0 < 10_000, `the replacement never started: ${calls}`);
  await publisher.stop();
  assert.ok(calls.includes('stop 2'), `the starting replacement was stopped: ${calls}`);
  release();
  await assert.rejects(delivering, (err: unknown) => isLivetagError(err, 'LT_STOPPED'));
  assert.deepEqual(calls.filter((c) => c.startsWith('transaction')), ['transaction 1'], 'the replacement ran no transaction');
  assert.equal(made, 2, 'no further producer was made');
  // Stopped before it was needed: a later chunk makes no producer at all.
  await assert.rejects(publisher.deliver([out], { batch, lastOffset: '9', nextOffset: '10' }), (err: unknown) => isLivetagError(err, 'LT_STOPPED'));
  assert.equal(made, 2);
});

test('reads that fail after the new producer settled the transaction are asked again without replacing the producer again', async () => {
  const lines: string[] = [];
  const calls: string[] = [];
  const sessions = { opened: 0, closed: 0, reads: 0 };
  const publisher = eosPublisher(failedCommitClient({ downFor: 0, offsets: ['10'], calls, readFailures: 2, sessions }), lines);
  await publisher.start();
  await publisher.deliver([out], { batch, lastOffset: '9', nextOffset: '10' });
  assert.equal(lines.filter((l) => l.startsWith('the outcome of the failed commit is not known yet')).length, 2, JSON.stringify(lines));
  assert.deepEqual(calls, ['abort', 'stopped', 'renewed'], 'one replacement only');
  // A failed read ends its session (its connection may be broken); each attempt asks on a new one, and none is left open.
  assert.deepEqual(sessions, { opened: 3, closed: 3, reads: 3 });
  await publisher.stop();
});

test('a heartbeat that reports a rebalance after the commit stops the batch (deliver rejects with it), yet the committed chunk is counted', async () => {
  const calls: string[] = [];
  const producer: KafkaProducer = { start: async () => {}, send: async () => void calls.push('send'), transaction: async () => { throw new Error('not used'); }, stop: async () => {} };
  const client = { name: 'kafkajs', brokers: ['127.0.0.1:9'], producer: () => producer } as unknown as KafkaClient;
  const metrics = createServeMetrics();
  const publisher = createPublisher({ client, delivery: 'at-least-once', transactionalId: 'unused', groupId: 'g', committer: createCommitter(), metrics, logger: recordingLogger([]) });
  await publisher.start();
  const rebalancing: RecordBatch = {
    ...batch,
    resolve: (o) => void calls.push(`resolve ${o}`),
    commit: async (next) => void calls.push(`commit ${next}`),
    heartbeat: async () => {
      calls.push('heartbeat');
      throw new LivetagError('LT_KAFKA_REBALANCE', 'the group is rebalancing');
    },
  };
  await assert.rejects(publisher.deliver([out, out], { batch: rebalancing, lastOffset: '9', nextOffset: '10' }), (err: unknown) => isLivetagError(err, 'LT_KAFKA_REBALANCE'));
  assert.deepEqual(calls, ['send', 'commit 10', 'resolve 9', 'heartbeat']);
  assert.match(await metrics.registry.metrics(), /^livetag_messages_classified_total 2$/m);
  await publisher.stop();
});

test('tags go out in sends no larger than maxOutputBytes (one send is one record batch per partition on kafkajs); dead letters keep their own budget', async () => {
  const sends: OutRecord[][] = [];
  const asked: ProducerOptions[] = [];
  const producer: KafkaProducer = { start: async () => {}, send: async (records) => void sends.push([...records] as OutRecord[]), transaction: async () => assert.fail('at-least-once'), stop: async () => {} };
  const client = { name: 'kafkajs', brokers: ['127.0.0.1:9'], producer: (o: ProducerOptions) => (asked.push(o), producer) } as unknown as KafkaClient;
  const publisher = createPublisher({ client, delivery: 'at-least-once', transactionalId: 'txn', groupId: 'g', committer: createCommitter(), metrics: createServeMetrics(), maxOutputBytes: 2_000 });
  await publisher.start();
  assert.equal(asked[0].maxBatchBytes, 2_000, 'the producer is told the bound too (librdkafka batches sends of its own)');
  const tag = (i: number): OutRecord => ({ ...out, value: JSON.stringify({ i, pad: 'x'.repeat(600) }) });
  const dead = (i: number): OutRecord => ({ ...out, topic: 'dlq', kind: 'dead-letter', value: 'y'.repeat(600 + i) });
  await publisher.deliver([tag(0), tag(1), dead(0), tag(2), tag(3), dead(1), tag(4)], { batch, lastOffset: '9', nextOffset: '10' });
  const tagSends = sends.filter((g) => g[0].kind === 'tags');
  assert.deepEqual(tagSends.map((g) => g.length), [2, 2, 1], 'two ~700-byte tags records to a 2000-byte send');
  for (const g of tagSends) assert.ok(g.reduce((n, r) => n + recordBytes(r), 0) <= 2_000);
  assert.deepEqual(sends.filter((g) => g[0].kind === 'dead-letter').map((g) => g.length), [2], 'dead letters are bounded by the dead-letter send budget, not the output topic');
  assert.deepEqual(sends.flat().filter((r) => r.kind === 'tags').map((r) => JSON.parse(String(r.value)).i), [0, 1, 2, 3, 4], 'in order');
  await publisher.stop();
});
