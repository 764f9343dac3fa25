import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePointer, passthroughSchema, pointerSchema, resolvePointer, type InputMapping } from '../../../src/consumer/input-mapping.ts';
import { parseInputBytes, parseInputText } from '../../../src/consumer/input-message.ts';

const bytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');
const mapping = (m: Partial<InputMapping>): InputMapping => ({ textPointer: '/text', idPointer: '/id', passthrough: 'all', ...m });

test('JSON Pointers follow RFC 6901: escapes, array indexes, missing steps', () => {
  assert.deepEqual(parsePointer('/a~1b/c~0d/0'), ['a/b', 'c~d', '0']);
  const doc = { 'a/b': { 'c~d': ['x', 'y'] }, list: [{ t: 'first' }] };
  assert.equal(resolvePointer(doc, '/a~1b/c~0d/1'), 'y');
  assert.equal(resolvePointer(doc, '/list/0/t'), 'first');
  assert.equal(resolvePointer(doc, '/list/01/t'), undefined);
  assert.equal(resolvePointer(doc, '/nope/deeper'), undefined);
  assert.throws(() => parsePointer('text'), /must start with "\/"/);
  assert.throws(() => parsePointer('/a~2'), /~/);
  assert.equal(pointerSchema.safeParse('/payload/msg/text').success, true);
  assert.equal(pointerSchema.safeParse('payload.msg.text').success, false);
});

test('a nested envelope maps text, id and named passthrough fields; other fields stay out', () => {
  const m = mapping({ textPointer: '/payload/msg/text', idPointer: '/payload/msg/mid', passthrough: passthroughSchema.parse('/payload/room, author=/payload/user/name') });
  const r = parseInputBytes(bytes({ payload: { msg: { text: '有M码吗', mid: 77 }, room: 'r1', user: { name: 'ann' }, secret: 's' } }), 4096, { mapping: m });
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual({ ...r.message }, { text: '有M码吗', id: 77, room: 'r1', author: 'ann' });
});

test('a `content` field is read with LIVETAG_INPUT_TEXT_FIELD=/content; `*` keeps every top-level field', () => {
  const r = parseInputText(JSON.stringify({ content: 'how much', id: 'c1', channel: 'live' }), Infinity, { mapping: mapping({ textPointer: '/content' }) });
  assert.ok(r.ok);
  assert.equal(r.message.text, 'how much');
  assert.equal((r.message as Record<string, unknown>).channel, 'live');
});

test('errors name the pointer that failed', () => {
  const m = mapping({ textPointer: '/payload/msg/text', idPointer: '/payload/id' });
  const cases: [unknown, RegExp][] = [
    [{ payload: { msg: {} } }, /^\/payload\/msg\/text: not found/],
    [{ payload: { msg: { text: 5 } } }, /^\/payload\/msg\/text: expected a string, got number/],
    [{ payload: { msg: { text: 'ok' }, id: { a: 1 } } }, /^\/payload\/id: expected a string or a number, got object/],
    [{ payload: { msg: { text: '  ' } } }, /^\/payload\/msg\/text: text is empty/],
  ];
  for (const [doc, re] of cases) {
    const r = parseInputBytes(bytes(doc), 4096, { mapping: m });
    assert.ok(!r.ok);
    assert.match(r.reason, re);
  }
  const room = parseInputText(JSON.stringify({ text: 'x', room: 3 }));
  assert.ok(!room.ok && room.code === 'LT_MSG_INVALID' && room.reason.startsWith('/room:'), JSON.stringify(room));
});

test('structured CloudEvents: pointers apply to data (or data_base64); the event id stands in for a missing id', () => {
  const event = { specversion: '1.0', id: 'ev-1', source: '/shop/live', type: 'com.shop.comment', time: '2026-01-01T00:00:00Z', datacontenttype: 'application/json' };
  const r = parseInputBytes(bytes({ ...event, data: { text: '发货快吗', room: 'r2' } }), 4096);
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.message.text, '发货快吗');
  assert.equal(r.message.id, 'ev-1');
  assert.equal(r.message.room, 'r2');
  assert.deepEqual((r.message as Record<string, unknown>).cloudevent, { specversion: '1.0', id: 'ev-1', source: '/shop/live', type: 'com.shop.comment', time: '2026-01-01T00:00:00Z' });
  const b64 = parseInputBytes(bytes({ ...event, data_base64: Buffer.from(JSON.stringify({ text: 'b64' })).toString('base64') }), 4096);
  assert.ok(b64.ok && b64.message.text === 'b64');
  const bad = parseInputBytes(bytes({ ...event, data_base64: Buffer.from('not json').toString('base64') }), 4096);
  assert.ok(!bad.ok && bad.code === 'LT_MSG_BAD_JSON');
});

test('binary CloudEvents: ce_* headers carry the context, the value is the data', () => {
  const headers = { ce_specversion: Buffer.from('1.0'), ce_id: Buffer.from('ev-9'), ce_source: 'src', ce_type: 't', 'content-type': 'application/json' };
  const r = parseInputBytes(bytes({ content: 'size M?' }), 4096, { headers, mapping: mapping({ textPointer: '/content' }) });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.message.id, 'ev-9');
  assert.equal((r.message.cloudevent as { source: string }).source, 'src');
  const missing = parseInputBytes(bytes({ content: 'x' }), 4096, { headers: { ce_specversion: '1.0' } });
  assert.ok(!missing.ok && /\/text: not found/.test(missing.reason));
});

test('LIVETAG_PASSTHROUGH_FIELDS refuses bad pointers and colliding names', () => {
  assert.equal(passthroughSchema.parse('*'), 'all');
  assert.deepEqual(passthroughSchema.parse('/a/b,c=/d'), [{ name: 'b', pointer: '/a/b' }, { name: 'c', pointer: '/d' }]);
  assert.equal(passthroughSchema.safeParse('a.b').success, false);
  assert.match(passthroughSchema.safeParse('/x/name,/y/name').error?.issues[0].message ?? '', /"name"/);
});
