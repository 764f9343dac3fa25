import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drainWindow, flameSvg, stageTimes, topFrames } from '../../../bench/lib/cpu-profile.ts';

// root → startup (module loader) | classify → JSON.parse, zod ; root → kafkajs ; root → (idle)
const frame = (functionName: string, url = '') => ({ functionName, url, scriptId: '0', lineNumber: 0, columnNumber: 0 });
const profile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 6, 7] },
    { id: 2, callFrame: frame('compileSourceTextModule', 'node:internal/modules/esm/utils') },
    { id: 3, callFrame: frame('processWith', 'file:///app/src/consumer/stages/classify.ts'), children: [4, 5] },
    { id: 4, callFrame: frame('parse') },
    { id: 5, callFrame: frame('safeParse', 'file:///app/node_modules/zod/v4/core.js') },
    { id: 6, callFrame: frame('encode', 'file:///app/node_modules/kafkajs/src/protocol/request.js') },
    { id: 7, callFrame: frame('(idle)') },
  ],
  samples: [2, 2, 3, 4, 6, 7, 5, 3, 2],
  timeDeltas: [100, 100, 10, 20, 30, 1000, 40, 10, 100],
};

test('stage times go to the innermost frame a stage owns; idle is its own', () => {
  const t = stageTimes(profile);
  assert.equal(t['classify stage'], 10 + 20 + 10);
  assert.equal(t['validate (zod)'], 40);
  assert.equal(t['kafka client (kafkajs)'], 30);
  assert.equal(t.idle, 1000);
  assert.equal(t.other, 300);
});

test('the drain window drops startup and shutdown samples', () => {
  const w = drainWindow(profile);
  assert.deepEqual(w.samples, [3, 4, 6, 7, 5, 3]);
  const t = stageTimes(w);
  assert.equal(t.other, undefined);
  assert.equal(t['classify stage'], 20 + 10);
  assert.equal(topFrames(w)[0].frame.startsWith('safeParse') || topFrames(w)[0].frame.startsWith('encode'), true);
});

test('the flame graph is an SVG with one box per visible frame and idle left out', () => {
  const svg = flameSvg(profile, 'test');
  assert.match(svg, /^<svg /);
  assert.match(svg, /processWith classify\.ts/);
  assert.doesNotMatch(svg, /\(idle\)/);
});
