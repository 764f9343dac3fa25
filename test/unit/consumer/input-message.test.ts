import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputMessageSchema, parseInputBytes, parseInputText } from '../../../src/consumer/input-message.ts';

const MAX = 1024;
const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

test('valid messages parse, extra fields pass through, the result is frozen', () => {
  const r = parseInputBytes(bytes('{"text":"这个多少钱","id":"c1","room":"r9","user":"u","ts":1700000000000,"extra":{"a":1}}'), MAX);
  assert.ok(r.ok);
  assert.equal(r.message.text, '这个多少钱');
  assert.deepEqual((r.message as Record<string, unknown>).extra, { a: 1 });
  assert.ok(Object.isFrozen(r.message));
});

test('emoji-only text is valid', () => {
  const r = parseInputBytes(bytes('{"text":"😀😀👍"}'), MAX);
  assert.ok(r.ok);
});

test('each kind of invalid message is rejected with its own code and never throws', () => {
  const cases: [Buffer | null, string][] = [
    [bytes('{not json'), 'LT_MSG_BAD_JSON'],
    [Buffer.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'LT_MSG_BAD_UTF8'],
    [bytes('{"id":"x"}'), 'LT_MSG_INVALID'],
    [bytes('{"text":42}'), 'LT_MSG_INVALID'],
    [bytes('["text"]'), 'LT_MSG_INVALID'],
    [bytes('{"text":"   "}'), 'LT_MSG_EMPTY_TEXT'],
    [bytes('{"text":""}'), 'LT_MSG_EMPTY_TEXT'],
    [bytes(JSON.stringify({ text: 'x'.repeat(MAX) })), 'LT_MSG_TOO_LARGE'],
    [null, 'LT_MSG_BAD_JSON'],
  ];
  for (const [value, code] of cases) {
    const r = parseInputBytes(value, MAX);
    assert.equal(r.ok, false, String(value));
    if (!r.ok) {
      assert.equal(r.code, code, String(value));
      assert.ok(r.reason.length > 0);
    }
  }
});

test('parseInputText applies the same schema to decoded text', () => {
  assert.equal(parseInputText('{"text":"M码还有吗"}').ok, true);
  const r = parseInputText('{"text":null}');
  assert.ok(!r.ok && r.code === 'LT_MSG_INVALID' && /text/.test(r.reason));
});

test('the quick shape check gives zod\'s verdicts, messages and key order', () => {
  const docs: unknown[] = [
    { a: 1, text: 'hi', z: 2, ts: 5, user: 'u', id: 3 },
    { text: 'hi', room: 'r1', id: 'x', extra: { deep: [1] } },
    { text: 'hi', id: 'x', ts: Number.MAX_VALUE },
    { text: 'hi', id: 'x', room: 7 },
    { text: 'hi', id: 'x', user: null },
    { text: 'hi', id: 'x', ts: '5' },
    { text: 'hi', id: true },
    { text: 5, id: 'x' },
    { text: '   ', id: 'x' },
    { id: 'x' },
  ];
  for (const doc of docs) {
    const got = parseInputText(JSON.stringify(doc));
    const z = InputMessageSchema.safeParse(doc);
    if (z.success && z.data.text.trim() !== '') {
      assert.ok(got.ok, JSON.stringify(doc));
      assert.deepEqual(Object.keys(got.message), Object.keys(z.data), JSON.stringify(doc));
      assert.deepEqual(got.message, z.data);
      assert.ok(Object.isFrozen(got.message));
    } else {
      assert.ok(!got.ok, JSON.stringify(doc));
      const mapped = typeof (doc as { text?: unknown }).text === 'string' && ['string', 'number'].includes(typeof (doc as { id?: unknown }).id);
      // Records whose text or id the mapping refuses keep the mapping's message (input-mapping tests); the rest get zod's.
      if (!z.success && mapped) assert.equal(got.reason.split(': ').slice(1).join(': '), z.error.issues[0].message, JSON.stringify(doc));
    }
  }
});

test('a "__proto__" key stays a field of its own: nothing reaches the message through a prototype, on the fast path or the mapped one', () => {
  for (const raw of ['{"text":"hi","id":"a","__proto__":{"room":5,"user":["x"]}}', '{"text":"hi","__proto__":{"room":5,"user":7}}']) {
    const got = parseInputText(raw);
    assert.ok(got.ok, raw);
    assert.equal(Object.getPrototypeOf(got.message), Object.prototype, raw);
    assert.equal(got.message.room, undefined, 'no room inherited, unvalidated');
    assert.equal(got.message.user, undefined);
    assert.deepEqual(Object.keys(got.message).sort(), Object.keys(JSON.parse(raw)).sort(), 'passed through as its own key');
  }
  const mapped = parseInputText('{"text":"hi","__proto__":{"user":7}}', Infinity, { mapping: { textPointer: '/text', idPointer: '/id', passthrough: [{ name: '__proto__', pointer: '/__proto__' }] } });
  assert.ok(mapped.ok && Object.getPrototypeOf(mapped.message) === Object.prototype && mapped.message.user === undefined);
});

test('a numeric id JSON reads as Infinity (1e400) is invalid, not published as null', () => {
  const got = parseInputText('{"text":"hi","id":1e400}');
  assert.ok(!got.ok && got.code === 'LT_MSG_INVALID' && got.reason.startsWith('/id'), JSON.stringify(got));
});
