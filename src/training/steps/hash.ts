import { createHash } from 'node:crypto';

/** sha256 (hex) of bytes, a string, or anything else as its JSON. */
export function hashOf(value: unknown): string {
  const h = createHash('sha256');
  if (value instanceof Uint8Array) h.update(value);
  else h.update(typeof value === 'string' ? value : JSON.stringify(value));
  return h.digest('hex');
}

/** sha256 (hex) of a weight map: each tensor's name, shape and bytes, in name order. */
export function hashOfWeights(weights: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>): string {
  const h = createHash('sha256');
  for (const name of [...weights.keys()].sort()) {
    const t = weights.get(name)!;
    h.update(`${name}:${t.shape.join('x')};`).update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex');
}
