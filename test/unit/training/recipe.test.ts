import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLivetagError } from '../../../src/common/errors.ts';
import { initKindOf, livetagRecipe, resolveRecipe } from '../../../src/training/recipe.ts';

test('the livetag learning rate follows what is trained: scratch, compact encoder, bert-base, frozen lower layers', () => {
  assert.equal(livetagRecipe('scratch', 0).lr, 1e-3);
  assert.equal(livetagRecipe('compact', 0, 'joint').lr, 3e-4);
  assert.equal(livetagRecipe('compact', 0, 'late').lr, 1e-3);
  assert.equal(livetagRecipe('pretrained', 0).lr, 5e-5);
  assert.equal(livetagRecipe('pretrained', 10).lr, 1e-4);
  assert.equal(livetagRecipe('compact', 1).lr, 1e-4);
  assert.equal(initKindOf(true, 768), 'scratch');
  assert.equal(initKindOf(false, 128), 'compact');
  assert.equal(initKindOf(false, 256), 'compact');
  assert.equal(initKindOf(false, 768), 'pretrained');
});

test('overrides win over the recipe; out-of-range values and unknown recipes are refused', () => {
  assert.equal(resolveRecipe('livetag', 'compact', 0, { lr: 5e-5, batchSize: undefined }).lr, 5e-5);
  assert.equal(resolveRecipe('livetag', 'compact', 0, { fusion: 'joint' }).lr, 3e-4);
  assert.equal(resolveRecipe('livetag', 'compact', 0, { batchSize: undefined }).batchSize, 32);
  assert.equal(resolveRecipe('seed', 'compact', 0).lr, 2e-5, 'the seed recipe keeps the user\'s own rate');
  assert.throws(() => resolveRecipe('livetag', 'scratch', 0, { dropout: 1 }), (e) => isLivetagError(e, 'LT_CONFIG_INVALID'));
  assert.throws(() => resolveRecipe('fancy', 'scratch', 0), (e) => isLivetagError(e, 'LT_CONFIG_INVALID'));
});

test('late fusion trains a compact encoder alone, at the from-scratch rate; an explicit --lr and other starts keep theirs', () => {
  assert.equal(livetagRecipe('compact', 0).fusion, 'late', 'a pretrained encoder stands alone');
  assert.equal(livetagRecipe('pretrained', 0).fusion, 'late');
  assert.equal(livetagRecipe('scratch', 0).fusion, 'joint', 'from scratch BERT learns what the n-grams miss');
  assert.equal(resolveRecipe('livetag', 'compact', 0).lr, 1e-3);
  assert.equal(resolveRecipe('livetag', 'compact', 0, { fusion: 'late' }).lr, 1e-3);
  assert.equal(resolveRecipe('livetag', 'compact', 0, { fusion: 'late', lr: 2e-4 }).lr, 2e-4);
  assert.equal(resolveRecipe('livetag', 'pretrained', 0, { fusion: 'late' }).lr, 5e-5, 'bert-base keeps 5e-5');
  assert.equal(resolveRecipe('livetag', 'compact', 1, { fusion: 'late' }).lr, 1e-4, 'frozen lower layers keep 1e-4');
  assert.equal(resolveRecipe('seed', 'compact', 0, { fusion: 'late' }).lr, 2e-5);
});
