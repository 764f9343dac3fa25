/** Seeded random choices for the comment generator; every draw goes through the caller's rng so a seed replays. */
import { LivetagError } from '../common/errors.ts';

export type Rng = () => number;
export type Picker<T> = (rng: Rng) => T;

export function weighted<T>(items: readonly T[], weights: readonly number[]): Picker<T> {
  if (items.length === 0) throw new LivetagError('LT_INTERNAL', 'weighted pick from an empty list');
  const cumulative: number[] = [];
  let total = 0;
  for (const w of weights) cumulative.push((total += w));
  return (rng) => {
    const x = rng() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return items[lo];
  };
}

/** Weights of a list ordered by how common an entry is: a gentle power law keeps the tail alive. */
export function positionWeights(items: readonly unknown[], skew: number): number[] {
  return items.map((_, i) => 1 / (i + 1) ** skew);
}

export function byPosition<T>(items: readonly T[], skew = 0.7): Picker<T> {
  return weighted(items, positionWeights(items, skew));
}

export function intBetween(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

export function chance(rng: Rng, p: number): boolean {
  return rng() < p;
}

export function pickOne<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}
