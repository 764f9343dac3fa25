/**
 * BERT's masking for masked-language-model pretraining: about `maskProb` of
 * each row's real tokens are chosen (never [CLS], [SEP], [PAD] or [MASK]),
 * and of those 80% become [MASK], 10% a random token and 10% stay, so the
 * model cannot learn that only [MASK] positions matter. Span masking
 * (SpanBERT) chooses contiguous runs with geometric lengths instead. Each
 * epoch draws from its own seeded stream, so masks differ between epochs
 * and a resumed run draws the same ones it would have.
 */
export interface MaskingOptions {
  readonly maskProb: number;
  readonly maskId: number;
  readonly vocabSize: number;
  /** Ids never chosen and never drawn as the random replacement. */
  readonly specialIds: ReadonlySet<number>;
  readonly spanMasking?: boolean;
  /** SpanBERT's geometric parameter and length cap. */
  readonly spanP?: number;
  readonly maxSpan?: number;
}

export interface MaskedRow {
  readonly ids: Int32Array;
  /** Positions in the row that the loss is taken at, ascending. */
  readonly positions: number[];
  /** The original id at each of `positions`. */
  readonly labels: number[];
  /** How each chosen position was replaced: 0 [MASK], 1 random, 2 unchanged. */
  readonly kinds: number[];
  /** Span lengths drawn (span masking only). */
  readonly spans: number[];
}

/** A stream per (seed, epoch): mulberry32 seeded from both, so epochs never share a mask. */
export function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0;
}

/** Length from a geometric distribution on 1, 2, … clipped to `max`. */
export function geometricLength(rng: () => number, p: number, max: number): number {
  const u = Math.max(rng(), 1e-12);
  return Math.min(max, 1 + Math.floor(Math.log(u) / Math.log(1 - p)));
}

function randomToken(rng: () => number, o: MaskingOptions): number {
  for (let i = 0; i < 100; i++) {
    const id = Math.floor(rng() * o.vocabSize);
    if (!o.specialIds.has(id)) return id;
  }
  return o.maskId;
}

function chooseTokens(candidates: number[], budget: number, rng: () => number): number[][] {
  const pool = [...candidates];
  for (let i = 0; i < budget; i++) {
    const j = i + Math.floor(rng() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, budget).map((p) => [p]);
}

/** Contiguous runs of candidate positions until the budget is met; a span is cut where it would overrun it. */
function chooseSpans(candidates: number[], budget: number, rng: () => number, o: MaskingOptions, spans: number[]): number[][] {
  const taken = new Set<number>();
  const out: number[][] = [];
  for (let tries = 0; taken.size < budget && tries < 100 * budget; tries++) {
    const want = Math.min(geometricLength(rng, o.spanP ?? 0.2, o.maxSpan ?? 10), budget - taken.size);
    const start = Math.floor(rng() * candidates.length);
    const span: number[] = [];
    for (let k = start; k < candidates.length && span.length < want; k++) {
      const pos = candidates[k];
      if (taken.has(pos) || (span.length > 0 && pos !== span[span.length - 1] + 1)) break;
      span.push(pos);
    }
    if (span.length === 0) continue;
    for (const pos of span) taken.add(pos);
    spans.push(span.length);
    out.push(span);
  }
  return out;
}

/** Masks one row of token ids (with its [CLS]/[SEP]); at least one token is chosen when the row has any real token. */
export function maskRow(row: Int32Array, o: MaskingOptions, rng: () => number): MaskedRow {
  const candidates: number[] = [];
  row.forEach((id, i) => {
    if (!o.specialIds.has(id)) candidates.push(i);
  });
  const ids = Int32Array.from(row);
  const spans: number[] = [];
  if (candidates.length === 0) return { ids, positions: [], labels: [], kinds: [], spans };
  // Stochastic rounding keeps the expected rate at maskProb on rows of 1/maskProb real tokens and
  // more; shorter rows still get one masked token (a row with none teaches nothing), so on short
  // live-chat comments the realised share is above maskProb (a 4-token row: 0.25).
  const budget = Math.min(candidates.length, Math.max(1, Math.floor(candidates.length * o.maskProb + rng())));
  const groups = o.spanMasking ? chooseSpans(candidates, budget, rng, o, spans) : chooseTokens(candidates, budget, rng);
  const chosen: Array<[number, number]> = [];
  for (const group of groups) {
    // A span is replaced as a whole, as SpanBERT does.
    const r = rng();
    const kind = r < 0.8 ? 0 : r < 0.9 ? 1 : 2;
    for (const pos of group) {
      chosen.push([pos, kind]);
      if (kind === 0) ids[pos] = o.maskId;
      else if (kind === 1) ids[pos] = randomToken(rng, o);
    }
  }
  chosen.sort((a, b) => a[0] - b[0]);
  return { ids, positions: chosen.map(([p]) => p), labels: chosen.map(([p]) => row[p]), kinds: chosen.map(([, k]) => k), spans };
}
