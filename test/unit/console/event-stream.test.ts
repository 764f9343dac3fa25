import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSnapshotPush } from '../../../src/console/event-stream.ts';

test('a stream whose client stopped reading skips snapshots above the limit, then sends only the latest once it drains', () => {
  const sink = { writableLength: 0, sent: [] as string[], write(chunk: string) { this.sent.push(chunk); } };
  let version = 0;
  let now = 1_000;
  const push = createSnapshotPush(sink, { version: () => version, snapshot: () => ({ version }) }, { maxBufferedBytes: 1 << 20, idlePushMs: 2_000 }, () => now);
  assert.equal(push(), true);
  assert.equal(push(), false, 'nothing changed, not stale: nothing sent');
  sink.writableLength = (1 << 20) + 1;
  for (let i = 0; i < 50; i++) {
    version++;
    now += 250;
    assert.equal(push(), false, 'over 1 MiB unsent: skipped');
  }
  sink.writableLength = 0;
  assert.equal(push(), true);
  assert.deepEqual(sink.sent.map((c) => JSON.parse(c.slice('data: '.length))), [{ version: 0 }, { version: 50 }], 'the 49 snapshots in between were never queued');
  assert.match(sink.sent[1]!, /^data: .*\n\n$/);
});

test('an unchanged view is sent again once stale, so its ages move on', () => {
  const sink = { writableLength: 0, sent: 0, write() { this.sent++; } };
  let now = 0;
  const push = createSnapshotPush(sink, { version: () => 7, snapshot: () => ({}) }, { maxBufferedBytes: 1 << 20, idlePushMs: 2_000 }, () => now);
  push();
  now = 1_999;
  assert.equal(push(), false);
  now = 2_000;
  assert.equal(push(), true);
  assert.equal(sink.sent, 2);
});
