import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ngramOptions } from '../../../src/cli/commands/train.ts';
import { parseCommandArgs } from '../../../src/cli/options.ts';
import { trainSpec } from '../../../src/cli/specs/train.ts';
import { isLivetagError } from '../../../src/common/errors.ts';

const options = (...argv: string[]) => ngramOptions(parseCommandArgs(trainSpec, ['--out', 'run', ...argv]).values);

test('--ngram-tf: alone it keeps the other defaults; with --ngram it sets the branch; no flag leaves the model its own; an unknown tf is a usage error', () => {
  const text = { source: 'tokens', maxChars: 256 };
  assert.deepEqual(options('--ngram-tf', 'sublinear').ngram, { buckets: 262144, maxN: 3, tf: 'sublinear', ...text });
  assert.deepEqual(options('--ngram', '1024', '--ngram-tf', 'raw').ngram, { buckets: 1024, maxN: 3, tf: 'raw', ...text });
  assert.deepEqual(options('--ngram-max-n', '2').ngram, { buckets: 262144, maxN: 2, tf: 'binary', ...text }, 'binary is the default');
  assert.equal(options().ngram, undefined, 'no flag: the job picks (a model keeps its own branch)');
  assert.equal(options().ngramSource, 'auto', 'and the source is chosen by the run');
  assert.equal(options('--ngram', '0', '--ngram-tf', 'binary').ngram, null);
  assert.throws(() => options('--ngram-tf', 'log'), (err: unknown) => isLivetagError(err) && /ngram-tf/.test((err as Error).message));
});

test('--ngram-source: auto by default (the run chooses), text or tokens fixes it; --ngram-chars: 256 unless told, the limit checked', () => {
  assert.deepEqual(options('--ngram-source', 'text'), { ngram: { buckets: 262144, maxN: 3, tf: 'binary', source: 'text', maxChars: 256 } }, 'a fixed source: no choice');
  assert.deepEqual(options('--ngram-source', 'tokens').ngram, { buckets: 262144, maxN: 3, tf: 'binary', source: 'tokens', maxChars: 256 });
  assert.deepEqual(options('--ngram-source', 'auto'), { ngramSource: 'auto' }, 'auto alone leaves the shape to the job');
  assert.deepEqual(options('--ngram', '0'), { ngramSource: 'auto', ngram: null }, 'no branch: the baseline still chooses');
  assert.deepEqual(options('--ngram-source', 'text', '--ngram-chars', '64').ngram, { buckets: 262144, maxN: 3, tf: 'binary', source: 'text', maxChars: 64 });
  assert.throws(() => options('--ngram-source', 'words'), (err: unknown) => isLivetagError(err) && /ngram-source/.test((err as Error).message));
  assert.throws(() => options('--ngram-chars', '5000'), (err: unknown) => isLivetagError(err, 'LT_CONFIG_INVALID') && /maxChars/.test((err as Error).message));
});

test('--split: all three ratios above 0 (validation picks the epoch and the thresholds, test decides promotion)', () => {
  const split = (s: string) => parseCommandArgs(trainSpec, ['--out', 'run', '--split', s]).values.split;
  assert.deepEqual(split('0.7,0.2,0.1'), ['0.7', '0.2', '0.1']);
  for (const bad of ['0.8,0,0.2', '0,0.5,0.5', '0.8,0.2,0', '0.6,0.2', '0.6,-0.2,0.2'])
    assert.throws(() => split(bad), (err: unknown) => isLivetagError(err, 'LT_USAGE') && /three ratios above 0/.test((err as Error).message), bad);
});
