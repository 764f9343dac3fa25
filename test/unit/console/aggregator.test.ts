import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_ROWS, SPARK_MINUTES, createConsoleAggregator, questionKey } from '../../../src/console/aggregator.ts';
import { countedAt } from '../../../src/console/console-service.ts';
import type { OutputMessage } from '../../../src/consumer/output-record.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function msg(text: string, labels: string[], room?: string): OutputMessage {
  return {
    id: text,
    text,
    ...(room ? { room } : {}),
    tags: labels.map((label) => ({ label, score: 0.9 })),
    model: { id: 'm', version: '1' },
    source: { topic: 't', partition: 0, offset: '0' },
    timing: { producedAt: T0, classifiedAt: T0 },
  };
}

test('counts per tag over the last 1 and 5 minutes, with a per-minute sparkline', () => {
  const agg = createConsoleAggregator();
  for (let i = 0; i < 3; i++) agg.add(msg(`多少钱${i}`, ['price']), T0 - 4 * 60_000); // 4 min ago: 5-min window only
  for (let i = 0; i < 5; i++) agg.add(msg(`M码还有吗${i}`, ['size', 'stock']), T0 - 10_000);
  agg.add(msg('什么时候发货', ['shipping']), T0 - 20 * 60_000); // beyond every window
  const snap = agg.snapshot({}, T0);
  const byLabel = Object.fromEntries(snap.tags.map((t) => [t.label, t]));
  assert.deepEqual([byLabel.price.m1, byLabel.price.m5], [0, 3]);
  assert.deepEqual([byLabel.size.m1, byLabel.size.m5], [5, 5]);
  assert.deepEqual([byLabel.shipping.m1, byLabel.shipping.m5], [0, 0]);
  assert.equal(byLabel.size.spark.length, SPARK_MINUTES);
  assert.equal(byLabel.size.spark.reduce((a, b) => a + b, 0), 5);
  assert.equal(byLabel.price.spark[SPARK_MINUTES - 1 - 4], 3, 'the price comments sit four minutes back');
  assert.deepEqual(snap.total, { m1: 5, m5: 8 });
  assert.equal(snap.seen, 9);
});

test('repeats collapse into one row with a counter, newest first, untagged hidden unless asked', () => {
  const agg = createConsoleAggregator();
  agg.add(msg('M码还有吗', ['size', 'stock']), T0);
  agg.add(msg('来了来了', []), T0 + 1);
  for (let i = 0; i < 11; i++) agg.add(msg(i % 2 ? 'M码还有吗 ' : 'm码还有吗', ['size', 'stock']), T0 + 2 + i);
  agg.add(msg('多少钱', ['price']), T0 + 20);
  const snap = agg.snapshot({}, T0 + 30);
  assert.deepEqual(
    snap.questions.map((q) => [q.text, q.count]),
    [
      ['多少钱', 1],
      ['M码还有吗', 12],
    ],
  );
  assert.deepEqual(snap.untagged, { m1: 1, m5: 1 });
  const withChatter = agg.snapshot({ untagged: true }, T0 + 30);
  assert.ok(withChatter.questions.some((q) => q.text === '来了来了' && q.tags.length === 0));
  assert.equal(questionKey(' M码  还有吗 '), 'm码 还有吗');
});

test('a tag view lists only that tag; a room view counts only that room', () => {
  const agg = createConsoleAggregator();
  agg.add(msg('多少钱', ['price'], 'room-a'), T0);
  agg.add(msg('有优惠吗', ['price', 'discount'], 'room-b'), T0);
  agg.add(msg('几号发货', ['shipping'], 'room-b'), T0);
  assert.deepEqual(agg.snapshot({ tag: 'shipping' }, T0).questions.map((q) => q.text), ['几号发货']);
  const b = agg.snapshot({ room: 'room-b' }, T0);
  assert.deepEqual(b.rooms, ['room-a', 'room-b']);
  assert.deepEqual(Object.fromEntries(b.tags.map((t) => [t.label, t.m1])), { price: 1, discount: 1, shipping: 1 });
  assert.deepEqual(b.questions.map((q) => q.text).sort(), ['几号发货', '有优惠吗']);
  const unknown = agg.snapshot({ room: 'nope' }, T0);
  assert.equal(unknown.total.m1, 0);
  assert.equal(unknown.questions.length, 0);
});

test('rows stay bounded and long comments are cut, whatever the volume', () => {
  const agg = createConsoleAggregator();
  for (let i = 0; i < 5000; i++) agg.add(msg(`问题${i}${'长'.repeat(i === 4999 ? 500 : 0)}`, ['price'], `room-${i % 80}`), T0 + i);
  const snap = agg.snapshot({}, T0 + 5000);
  assert.equal(snap.questions.length, MAX_ROWS);
  assert.ok(snap.questions[0].text.length <= 200);
  assert.ok(snap.rooms.length <= 50, `${snap.rooms.length} rooms kept`);
  assert.equal(snap.tags[0].m1, 5000);
  agg.skip();
  assert.equal(agg.snapshot({}, T0 + 5000).skipped, 1);
});

test('a backlog read late counts when it was written: a comment older than the ring does not reset the second it shares a slot with', () => {
  const agg = createConsoleAggregator();
  for (let i = 0; i < 4; i++) agg.add(msg(`多少钱${i}`, ['price']), T0 - 1000);
  // 15 min + 1 s earlier maps to the same slot of a 900-second ring: history, dropped from the counts.
  agg.add(msg('很久以前', ['price']), T0 - 1000 - 900_000);
  const snap = agg.snapshot({}, T0);
  assert.equal(snap.tags.find((t) => t.label === 'price')?.m1, 4);
  assert.equal(snap.seen, 5, 'still seen');
});

test('a comment counts at the second the service classified it (its own clock, not the producer\'s), never later than now', () => {
  const now = T0;
  assert.equal(countedAt(now - 5_000, now), now - 5_000, 'a console 5 s behind draws it 5 s back, not as a spike now');
  assert.equal(countedAt(now - 3_600_000, now), now - 3_600_000, 'a backlog is history');
  assert.equal(countedAt(now + 3_000, now), now, 'a service clock ahead of ours counts as now');
});
