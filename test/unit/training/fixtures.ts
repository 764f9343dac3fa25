/** Tiny synthetic tagged comments for trainer tests: labels are cued by characters. */
import { writeFileSync } from 'node:fs';
import { createRng } from '../../../src/common/rng.ts';
import type { PretrainOptions } from '../../../src/training/pretrain/pretrain-options.ts';

const CUES: Record<string, string[]> = {
  price: ['价', '钱', '贵'],
  size: ['码', '大', '小'],
  ship: ['快', '递', '发'],
};
const FILLER = ['的', '了', '很', '好', '我', '是', '这', '个', '吗', '呢'];

export const TINY_LABELS = Object.keys(CUES);

export function tinyRows(n: number, seed = 1, prefix = ''): Array<{ id: string; text: string; labels: string[] }> {
  const rng = createRng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
  return Array.from({ length: n }, (_, i) => {
    const labels = TINY_LABELS.filter(() => rng() < 0.4);
    if (labels.length === 0 && rng() < 0.7) labels.push(pick(TINY_LABELS));
    const chars = Array.from({ length: 3 + Math.floor(rng() * 5) }, () => pick(FILLER));
    for (const l of labels) chars.splice(Math.floor(rng() * chars.length), 0, pick(CUES[l]));
    return { id: `${prefix}${i}`, text: `${prefix}${chars.join('')}${i}`, labels };
  });
}

export function writeJsonl(path: string, rows: readonly unknown[], extraLines: readonly string[] = []): string {
  writeFileSync(path, [...rows.map((r) => JSON.stringify(r)), ...extraLines].join('\n') + '\n');
  return path;
}

/** A pretraining run small enough for a test: a 1-layer, hidden-16 encoder, single-threaded on CPU. */
export function tinyPretrainOptions(out: string, over: Partial<PretrainOptions> = {}): PretrainOptions {
  return {
    data: [],
    out,
    epochs: 2,
    batchSize: 16,
    lr: 1e-3,
    maskProb: 0.15,
    spanMasking: false,
    maxLength: 24,
    arch: { hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32 },
    seed: 13,
    dropout: 0,
    weightDecay: 0.01,
    warmupRatio: 0.06,
    resume: false,
    threads: 1,
    device: 'cpu',
    quiet: true,
    ...over,
  };
}
