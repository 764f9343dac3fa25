/**
 * Reads V8 .cpuprofile files (node --cpu-prof) of `livetag serve`: time per
 * serving stage (each sample goes to the innermost frame a stage owns, so
 * JSON.parse under input-message.ts counts as parsing and zod under it as
 * validation) and an icicle-style flame graph as SVG.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: number[];
}
interface Profile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
}

/** Stage by file or function: the first rule that matches a frame wins, innermost frame first. */
const RULES: readonly [stage: string, test: (f: CallFrame) => boolean][] = [
  ['idle', (f) => f.functionName === '(idle)'],
  ['gc', (f) => f.functionName === '(garbage collector)'],
  ['validate (zod)', (f) => f.url.includes('/node_modules/zod/')],
  ['metrics (prom-client)', (f) => f.url.includes('/node_modules/prom-client/') || f.url.endsWith('/consumer/metrics.ts')],
  ['kafka client (kafkajs)', (f) => f.url.includes('/node_modules/kafkajs/') || f.url.includes('/node_modules/@confluentinc/')],
  ['kafka adapter', (f) => f.url.includes('/src/kafka/')],
  ['parse input', (f) => /\/consumer\/input-(message|mapping)\.ts$/.test(f.url)],
  ['tokenize', (f) => f.url.endsWith('/model/tokenizer.ts') || f.url.includes('/node_modules/tokenizers')],
  ['micro-batch', (f) => f.url.endsWith('/consumer/micro-batcher.ts')],
  ['worker hand-off', (f) => f.url.endsWith('/runtime/model-runner.ts') || f.url.endsWith('/runtime/inference-worker.ts') || f.url.endsWith('/runtime/onnx-session.ts')],
  ['decide', (f) => f.url.endsWith('/runtime/classifier.ts')],
  ['output record (JSON)', (f) => f.url.endsWith('/consumer/output-record.ts')],
  ['publish + commit', (f) => /\/stages\/(publisher|committer)\.ts$/.test(f.url)],
  ['classify stage', (f) => f.url.endsWith('/stages/classify.ts') || f.url.endsWith('/consumer/dedupe-cache.ts')],
  ['source', (f) => f.url.endsWith('/stages/source.ts') || f.url.endsWith('/consumer/in-flight-gate.ts')],
  ['tracing', (f) => /\/consumer\/(tracing|trace-stages)\.ts$/.test(f.url)],
  ['http / health', (f) => /\/consumer\/(http-server|http-inference|kserve-v2)\.ts$|\/stages\/(health|lag-monitor)\.ts$/.test(f.url)],
];

export function readProfile(path: string): Profile {
  return JSON.parse(readFileSync(path, 'utf8')) as Profile;
}

/**
 * The profile cut to the drain: from the first to the last sample with the
 * classify stage on its stack. Startup (module compilation, model load) and
 * shutdown are no cost per message.
 */
export function drainWindow(p: Profile): Profile {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const inDrain = new Map<number, boolean>();
  const under = (id: number): boolean => {
    let v = inDrain.get(id);
    if (v === undefined) {
      const up = parent.get(id);
      v = byId.get(id)!.callFrame.url.endsWith('/stages/classify.ts') || (up !== undefined && under(up));
      inDrain.set(id, v);
    }
    return v;
  };
  const first = p.samples.findIndex(under);
  let last = p.samples.length - 1;
  while (last > first && !under(p.samples[last])) last--;
  if (first < 0) return p;
  return { nodes: p.nodes, samples: p.samples.slice(first, last + 1), timeDeltas: [0, ...p.timeDeltas.slice(first + 1, last + 1)] };
}

function stageOfFrame(f: CallFrame): string | undefined {
  for (const [stage, test] of RULES) if (test(f)) return stage;
  return undefined;
}

/** Self time (µs) per node id, and each node's parent. */
function selfTimes(p: Profile): { self: Map<number, number>; parent: Map<number, number>; byId: Map<number, ProfileNode> } {
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  return { self, parent, byId };
}

/** Microseconds per stage; 'other' is time under no stage's frame (Node internals, timers, promises). */
export function stageTimes(p: Profile): Record<string, number> {
  const { self, parent, byId } = selfTimes(p);
  const out: Record<string, number> = {};
  for (const [id, us] of self) {
    let stage: string | undefined;
    for (let n: number | undefined = id; n !== undefined && !stage; n = parent.get(n)) stage = stageOfFrame(byId.get(n)!.callFrame);
    const key = stage ?? (byId.get(id)!.callFrame.functionName === '(program)' ? 'native (program)' : 'other');
    out[key] = (out[key] ?? 0) + us;
  }
  return out;
}

const COLORS: Record<string, string> = {
  'kafka client (kafkajs)': '#e8a33d', 'kafka adapter': '#f0c36d', 'parse input': '#5fa8d3', 'validate (zod)': '#3c6e91',
  tokenize: '#7bc47f', 'micro-batch': '#4f9d52', 'worker hand-off': '#b07cc6', decide: '#8d5fa6', 'output record (JSON)': '#d46a6a',
  'publish + commit': '#a94442', 'classify stage': '#6fc2b5', source: '#9aa5b1', 'metrics (prom-client)': '#c9b458', gc: '#777', tracing: '#c0c0c0',
};

/** An icicle flame graph (root on top, width = time incl. children), frames under `minShare` of the total left out. */
export function flameSvg(p: Profile, title: string, width = 1200, minShare = 0.003): string {
  const { self, byId } = selfTimes(p);
  const total = new Map<number, number>();
  const sum = (id: number): number => {
    let t = self.get(id) ?? 0;
    for (const c of byId.get(id)!.children ?? []) t += sum(c);
    total.set(id, t);
    return t;
  };
  const root = p.nodes[0].id;
  // Idle time is the service waiting, not cost: leave it out of the picture.
  for (const n of p.nodes) if (n.callFrame.functionName === '(idle)') self.delete(n.id);
  const all = sum(root);
  const rowH = 16;
  const rects: string[] = [];
  let maxDepth = 0;
  const stageOf = (id: number, inherited?: string): string | undefined => stageOfFrame(byId.get(id)!.callFrame) ?? inherited;
  const walk = (id: number, x: number, depth: number, inherited?: string): void => {
    const t = total.get(id) ?? 0;
    if (t / all < minShare) return;
    const w = (t / all) * width;
    const f = byId.get(id)!.callFrame;
    const stage = stageOf(id, inherited);
    const name = `${f.functionName || '(anonymous)'}${f.url ? ` ${f.url.split('/').slice(-1)[0]}` : ''}`;
    const label = name.length * 6.5 < w - 4 ? name : name.slice(0, Math.max(0, Math.floor((w - 4) / 6.5)));
    const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    rects.push(
      `<g><title>${esc(name)} — ${((t / all) * 100).toFixed(1)}%${stage ? ` (${esc(stage)})` : ''}</title><rect x="${x.toFixed(1)}" y="${30 + depth * rowH}" width="${Math.max(0.5, w - 0.5).toFixed(1)}" height="${rowH - 1}" fill="${(stage && COLORS[stage]) || '#ddd'}"/>` +
        (label ? `<text x="${(x + 2).toFixed(1)}" y="${30 + depth * rowH + 12}">${esc(label)}</text>` : '') + '</g>',
    );
    maxDepth = Math.max(maxDepth, depth);
    let cx = x;
    for (const c of byId.get(id)!.children ?? []) {
      walk(c, cx, depth + 1, stage);
      cx += ((total.get(c) ?? 0) / all) * width;
    }
  };
  walk(root, 0, 0);
  const legendY = 30 + (maxDepth + 1) * rowH + 10;
  const legend = Object.entries(COLORS).map(([s, c], i) => `<rect x="${(i % 5) * 240}" y="${legendY + Math.floor(i / 5) * 16}" width="12" height="12" fill="${c}"/><text x="${(i % 5) * 240 + 16}" y="${legendY + Math.floor(i / 5) * 16 + 10}">${s}</text>`);
  const height = legendY + Math.ceil(Object.keys(COLORS).length / 5) * 16 + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="11"><rect width="100%" height="100%" fill="#fff"/><text x="4" y="18" font-size="13">${title}</text>${rects.join('')}${legend.join('')}</svg>\n`;
}

/** The functions with the most self time (idle left out): what "other" is made of. */
export function topFrames(p: Profile, n = 25): { frame: string; stage: string; us: number }[] {
  const { self, parent, byId } = selfTimes(p);
  const by = new Map<string, { frame: string; stage: string; us: number }>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') continue;
    let stage: string | undefined;
    for (let k: number | undefined = id; k !== undefined && !stage; k = parent.get(k)) stage = stageOfFrame(byId.get(k)!.callFrame);
    const frame = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules\/|src\/)/, '$1')}`.trim();
    const e = by.get(frame) ?? { frame, stage: stage ?? 'other', us: 0 };
    e.us += us;
    by.set(frame, e);
  }
  return [...by.values()].sort((a, b) => b.us - a.us).slice(0, n);
}
