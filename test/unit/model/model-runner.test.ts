import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLivetagError } from '../../../src/common/errors.ts';
import { createModelRunner } from '../../../src/model/runtime/model-runner.ts';

const notAGraph = new Uint8Array([1, 2, 3, 4]);

test('a graph onnxruntime cannot load is LT_ONNX_INVALID, inline and on the worker thread alike', async () => {
  await assert.rejects(createModelRunner(notAGraph, { worker: false }), (e: unknown) => isLivetagError(e, 'LT_ONNX_INVALID'));
  // The worker's LivetagError crosses the thread boundary as a plain Error; its code must survive.
  await assert.rejects(createModelRunner(notAGraph), (e: unknown) => isLivetagError(e, 'LT_ONNX_INVALID') && !e.retryable);
});
