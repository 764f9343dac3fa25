import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createStableOffsets, createTxnOffsetLedger, untilCommitted, type OffsetReader } from '../../../src/kafka/stable-offsets.ts';

const FAST = { timeoutMs: 300, pollMs: 5 };

test('the ledger keeps the last offset committed per group and partition, and forgets it once taken', () => {
  const ledger = createTxnOffsetLedger();
  ledger.committed('g', [{ topic: 't', partition: 0, offset: '5' }, { topic: 't', partition: 1, offset: '9' }]);
  ledger.committed('g', [{ topic: 't', partition: 0, offset: '8' }]);
  ledger.committed('other', [{ topic: 't', partition: 0, offset: '100' }]);
  assert.equal(ledger.take('g', 't', 0), '8');
  assert.equal(ledger.take('g', 't', 0), undefined, 'taken once');
  assert.equal(ledger.take('g', 't', 1), '9');
  assert.equal(ledger.take('g', 'u', 0), undefined);
  assert.equal(ledger.take('other', 't', 0), '100');
});

test('untilCommitted polls until the group shows the offset (or a later one); failed and missing reads count as not yet', async () => {
  const answers: Array<string | undefined | Error> = [undefined, '-1', new Error('coordinator loading'), '4', '5'];
  let reads = 0;
  const read = async () => {
    const a = answers[Math.min(reads++, answers.length - 1)];
    if (a instanceof Error) throw a;
    return a;
  };
  assert.equal(await untilCommitted(read, '5', FAST), true);
  assert.equal(reads, 5);
  assert.equal(await untilCommitted(async () => '12', '5', FAST), true, 'another member committed further');
});

test("untilCommitted with failedReads 'throw': a failed read throws (unknown, not no); the offset short of it is read again until the timeout", async () => {
  let reads = 0;
  await assert.rejects(untilCommitted(async () => (reads++ < 2 ? '4' : Promise.reject(new Error('broker away'))), '5', FAST, 'throw'), /broker away/);
  assert.equal(reads, 3);
  assert.equal(await untilCommitted(async () => '4', '5', FAST, 'throw'), false);
});

test('untilCommitted gives up after its timeout, also when a read never answers', async () => {
  const t0 = Date.now();
  assert.equal(await untilCommitted(async () => '4', '5', FAST), false);
  assert.equal(await untilCommitted(() => new Promise<string>(() => {}), '5', FAST), false);
  const took = Date.now() - t0;
  assert.ok(took >= 2 * FAST.timeoutMs - 20 && took < 5_000, `took ${took} ms`);
});

test('settle waits only for offsets this process committed, opens one reader on first need, warns on a timeout, stop closes it once', async () => {
  const ledger = createTxnOffsetLedger();
  let group = '0';
  let opens = 0;
  let closes = 0;
  const reads: string[] = [];
  const open = async (): Promise<OffsetReader> => {
    if (opens++ === 0) throw new Error('broker not reachable yet');
    return {
      read: async (topic, partition) => {
        reads.push(`${topic}/${partition}`);
        return group;
      },
      close: async () => void closes++,
    };
  };
  const warnings: string[] = [];
  const stable = createStableOffsets('g', ledger, (m) => void warnings.push(m), open, FAST);

  await stable.settle('t', 0);
  assert.equal(opens, 0, 'nothing committed: no reader, no wait');

  ledger.committed('g', [{ topic: 't', partition: 0, offset: '3' }]);
  setTimeout(() => (group = '3'), 40);
  await stable.settle('t', 0);
  assert.equal(opens, 2, 'the first open failed and was retried');
  assert.ok(reads.length >= 2 && reads.every((r) => r === 't/0'), reads.join(','));
  assert.deepEqual(warnings, []);

  ledger.committed('g', [{ topic: 't', partition: 0, offset: '7' }]);
  await stable.settle('t', 0);
  assert.equal(opens, 2, 'the reader is kept');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /committed offset 7 of t\/0 \(group g\) did not show within 300 ms/);

  await stable.stop();
  await stable.stop();
  assert.equal(closes, 1);
});
