import { createHash } from 'node:crypto';

/** sha256 (hex) of bytes, a string, or anything else as its JSON. */
export function hashOf(value: unknown): string {
  const h = createHash('sha256');
  if (value instanceof Uint8Array) h.update(value);
  else h.update(typeof value === 'string' ? value : JSON.stringify(value));
  return h.digest('hex');
}
