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
 * whitespace), so a cached result is exactly what inference would give. Its
 * whitespace, not JavaScript's: \v and \f it drops as control characters and
 * U+FEFF it keeps as a character, so "a\uFEFFb" is not "a b".
 */
export function normaliseText(text: string): string {
  return text.replace(EDGE_SPACE, '').replace(INNER_SPACE, ' ');
}

const SPACE = '[ \\t\\n\\r\\p{Zs}\\u2028\\u2029]';
const EDGE_SPACE = new RegExp(`^${SPACE}+|${SPACE}+$`, 'gu');
const INNER_SPACE = new RegExp(`${SPACE}+`, 'gu');

/**
 * Repeats worth caching are short ("666", "多少钱"); a long text would hold its
 * whole length as a key (64 KiB a message, 1 MiB a request) for a hit that
 * almost never comes. Longer texts are classified every time.
 */
export const MAX_CACHED_CHARS = 512;

export function createDedupeCache(capacity: number): DedupeCache {
  const map = new Map<string, Classification>();
  return {
    get(text) {
      if (capacity === 0 || text.length > MAX_CACHED_CHARS) return undefined;
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
      if (capacity === 0 || text.length > MAX_CACHED_CHARS) return;
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
