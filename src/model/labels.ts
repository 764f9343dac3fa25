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
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
