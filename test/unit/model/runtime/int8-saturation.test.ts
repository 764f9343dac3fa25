import assert from 'node:assert/strict';
import { test } from 'node:test';
import { int8PairsSaturate } from '../../../../src/model/runtime/int8-saturation.ts';

test('int8 products saturate on x86-64 without VNNI only; unknown x86 flags count as saturating', () => {
  const flags = (f: string) => () => `processor\t: 0\nflags\t\t: fpu sse4_2 ${f}\n`;
  assert.equal(int8PairsSaturate('x64', flags('avx2 fma avx512f')), true, 'AVX2 / AVX-512F: vpmaddubsw into int16');
  assert.equal(int8PairsSaturate('x64', flags('avx2 avx512f avx512_vnni')), false);
  assert.equal(int8PairsSaturate('x64', flags('avx2 avx_vnni')), false);
  assert.equal(int8PairsSaturate('arm64', flags('')), false, 'ARM dot products accumulate in int32');
  assert.equal(int8PairsSaturate('x64', () => { throw new Error('no /proc'); }), true);
});
