import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInputBytes, parseInputText } from '../../../src/consumer/input-message.ts';

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
