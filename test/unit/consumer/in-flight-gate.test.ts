import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInFlightGate } from '../../../src/consumer/in-flight-gate.ts';

test('work beyond the capacity waits (fetching pauses) until earlier work is released, in order', async () => {
  const states: [number, number][] = [];
  const gate = createInFlightGate(100, (used, waiting) => states.push([used, waiting]));
  await gate.acquire(60);
  const order: string[] = [];
  const b = gate.acquire(50).then(() => order.push('b'));
  const c = gate.acquire(10).then(() => order.push('c'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [], 'b does not fit; c waits behind b rather than overtaking it');
  assert.equal(gate.waiting, 2);
  assert.ok(states.some(([, waiting]) => waiting > 0), 'the paused state is reported (livetag_fetch_paused)');
  gate.release(60);
  await Promise.all([b, c]);
  assert.deepEqual(order, ['b', 'c']);
  assert.equal(gate.used, 60);
  gate.release(60);
  assert.equal(gate.used, 0);
  assert.deepEqual(states.at(-1), [0, 0]);
});

test('a single chunk larger than the capacity still runs, alone', async () => {
  const gate = createInFlightGate(10);
  await gate.acquire(25);
  let second = false;
  const p = gate.acquire(1).then(() => (second = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(second, false);
  gate.release(25);
  await p;
  assert.equal(gate.used, 1);
});
