import { LivetagError } from '../common/errors.ts';

/**
 * The default live-commerce tag set, in output order. Bundles carry
 * their own labels; this is what generated and demo models use.
 */
export const DEFAULT_LABELS = Object.freeze([
  'price',
  'size',
  'stock',
  'shipping',
  'discount',
  'quality',
  'material',
  'color',
  'usage',
  'after_sales',
  'link',
  'gift',
  'host',
] as const);

export function parseLabelList(value: string): string[] {
  const labels = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  // Caught here, not after a whole training run, when the bundle's manifest refuses it.
  const repeated = labels.filter((l, i) => labels.indexOf(l) !== i);
  if (repeated.length > 0) throw new LivetagError('LT_USAGE', `--labels names ${[...new Set(repeated)].map((l) => `"${l}"`).join(', ')} more than once`);
  return labels;
}
