import type { Classification } from '../model/runtime/classifier.ts';

/**
 * Live chat repeats itself ("666", "多少钱"): an LRU on normalised text skips
 * inference for repeats. Results depend on the model, so a model swap clears it.
 */
export interface DedupeCache {
  get(text: string): Classification | undefined;
  set(text: string, value: Classification): void;
  clear(): void;
  readonly size: number;
}

/**
 * Only changes the BERT tokenizer ignores (surrounding and repeated
 * whitespace), so a cached result is exactly what inference would give.
 */
export function normaliseText(text: string): string {
  return text.trim().replace(/\s+/g, ' ');
}

export function createDedupeCache(capacity: number): DedupeCache {
  const map = new Map<string, Classification>();
  return {
    get(text) {
      if (capacity === 0) return undefined;
      const key = normaliseText(text);
      const v = map.get(key);
      if (v !== undefined) {
        // Map keeps insertion order: re-inserting marks the entry most recent.
        map.delete(key);
        map.set(key, v);
      }
      return v;
    },
    set(text, value) {
      if (capacity === 0) return;
      const key = normaliseText(text);
      map.delete(key);
      map.set(key, value);
      if (map.size > capacity) map.delete(map.keys().next().value as string);
    },
    clear: () => map.clear(),
    get size() {
      return map.size;
    },
  };
}
