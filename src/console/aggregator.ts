/**
 * Server-side aggregation for the host console: the browser never sees raw
 * records, only a bounded snapshot per view (counts per tag over the last 1
 * and 5 minutes, a per-minute sparkline, the newest collapsed questions), so
 * its cost does not grow with the rate of the topic.
 */
import type { OutputMessage } from '../consumer/output-record.ts';

/** Seconds of per-second counts kept: the sparkline's span. */
export const SPARK_MINUTES = 15;
const RING = SPARK_MINUTES * 60;
/** Rooms with their own counts; beyond this the least recently active room loses them. */
const MAX_ROOMS = 50;
/** Distinct questions remembered (per scope): older ones are forgotten first. */
const MAX_QUESTIONS = 2000;
/** Rows a snapshot carries: a screenful. More rows cost the browser layout on every update (bench/console-render.ts: 100 rows dropped 3× the frames of 30). */
export const MAX_ROWS = 30;
/** Longer comments are cut: a row is one line on the host's screen. */
const MAX_TEXT = 200;
const ALL = '\u0000all';
const UNTAGGED = '';

export interface ConsoleView {
  readonly room?: string;
  readonly tag?: string;
  /** Include comments without tags in the question list. */
  readonly untagged?: boolean;
}

export interface TagCounts {
  readonly label: string;
  readonly m1: number;
  readonly m5: number;
  /** Comments per minute, oldest first, the last entry being the current minute. */
  readonly spark: readonly number[];
}

export interface QuestionRow {
  readonly text: string;
  readonly count: number;
  readonly tags: readonly string[];
  readonly room?: string;
  readonly last: number;
}

export interface ConsoleSnapshot {
  readonly at: number;
  readonly view: ConsoleView;
  readonly total: { readonly m1: number; readonly m5: number };
  readonly untagged: { readonly m1: number; readonly m5: number };
  readonly tags: readonly TagCounts[];
  readonly rooms: readonly string[];
  readonly questions: readonly QuestionRow[];
  /** Records seen since start, and those that did not parse as tag records. */
  readonly seen: number;
  readonly skipped: number;
}

interface Series {
  readonly counts: Uint32Array;
  /** The second each slot holds; a slot from an older lap counts as zero. */
  readonly stamps: Float64Array;
}

interface Question {
  readonly text: string;
  count: number;
  tags: readonly string[];
  room?: string;
  last: number;
}

export interface ConsoleAggregator {
  add(message: OutputMessage, at?: number): void;
  /** A record that failed the schema, counted so the page can say so. */
  skip(): void;
  snapshot(view: ConsoleView, at?: number): ConsoleSnapshot;
  /** Changes whenever something was added: lets pushers skip identical snapshots. */
  readonly version: number;
}

/** Same question, different spelling of spaces or case: one row. */
export function questionKey(text: string): string {
  return text.normalize('NFKC').replace(/\s+/g, ' ').trim().toLowerCase();
}

function newSeries(): Series {
  return { counts: new Uint32Array(RING), stamps: new Float64Array(RING).fill(-1) };
}

function bump(s: Series, second: number): void {
  const slot = second % RING;
  // A second the ring no longer holds (a backlog read late) must not reset the newer one in its slot.
  if (s.stamps[slot] > second) return;
  if (s.stamps[slot] !== second) {
    s.stamps[slot] = second;
    s.counts[slot] = 0;
  }
  s.counts[slot]++;
}

function sumSeconds(s: Series | undefined, from: number, to: number): number {
  if (!s) return 0;
  let n = 0;
  for (let sec = from; sec <= to; sec++) {
    const slot = sec % RING;
    if (s.stamps[slot] === sec) n += s.counts[slot];
  }
  return n;
}

function countsOf(s: Series | undefined, now: number): { m1: number; m5: number; spark: number[] } {
  const spark: number[] = [];
  const minute = Math.floor(now / 60);
  for (let m = minute - SPARK_MINUTES + 1; m <= minute; m++) spark.push(sumSeconds(s, m * 60, m * 60 + 59));
  return { m1: sumSeconds(s, now - 59, now), m5: sumSeconds(s, now - 299, now), spark };
}

/** Newest-last map bounded to `max` entries: a re-set moves a key to the end. */
function touch<K, V>(map: Map<K, V>, key: K, value: V, max: number, evicted?: (key: K) => void): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next().value as K;
    map.delete(oldest);
    evicted?.(oldest);
  }
}

export function createConsoleAggregator(options: { readonly labels?: readonly string[] } = {}): ConsoleAggregator {
  const series = new Map<string, Map<string, Series>>();
  const labels = new Set<string>(options.labels ?? []);
  const rooms = new Map<string, number>();
  const questions = new Map<string, Map<string, Question>>([[ALL, new Map()]]);
  let version = 0;
  let seen = 0;
  let skipped = 0;

  const count = (scope: string, label: string, second: number): void => {
    let byLabel = series.get(scope);
    if (!byLabel) series.set(scope, (byLabel = new Map()));
    let s = byLabel.get(label);
    if (!s) byLabel.set(label, (s = newSeries()));
    bump(s, second);
  };
  const forgetRoom = (room: string): void => {
    series.delete(room);
    questions.delete(room);
  };
  const remember = (scope: string, message: OutputMessage, text: string, tags: string[], at: number): void => {
    let list = questions.get(scope);
    if (!list) questions.set(scope, (list = new Map()));
    const key = questionKey(text);
    const q = list.get(key);
    const next: Question = q ? { ...q, count: q.count + 1, tags: q.tags.length ? q.tags : tags, last: at } : { text, count: 1, tags, last: at, ...(message.room ? { room: message.room } : {}) };
    touch(list, key, next, MAX_QUESTIONS);
  };

  return {
    get version() {
      return version;
    },
    add(message, at = Date.now()) {
      const second = Math.floor(at / 1000);
      const tags = [...new Set(message.tags.map((t) => t.label))];
      const text = message.text.length > MAX_TEXT ? `${message.text.slice(0, MAX_TEXT - 1)}…` : message.text;
      const scopes = [ALL];
      if (message.room) {
        touch(rooms, message.room, at, MAX_ROOMS, forgetRoom);
        scopes.push(message.room);
      }
      for (const scope of scopes) {
        count(scope, '\u0002total', second);
        if (tags.length === 0) count(scope, UNTAGGED, second);
        for (const label of tags) count(scope, label, second);
        remember(scope, message, text, tags, at);
      }
      for (const label of tags) labels.add(label);
      seen++;
      version++;
    },
    skip() {
      skipped++;
      version++;
    },
    snapshot(view, at = Date.now()) {
      const now = Math.floor(at / 1000);
      const scope = view.room && rooms.has(view.room) ? view.room : view.room ? undefined : ALL;
      const get = (label: string): Series | undefined => (scope === undefined ? undefined : series.get(scope)?.get(label));
      const tags = [...labels].map((label) => ({ label, ...countsOf(get(label), now) }));
      const total = countsOf(get('\u0002total'), now);
      const untagged = countsOf(get(UNTAGGED), now);
      const rows: QuestionRow[] = [];
      const list = scope === undefined ? [] : [...(questions.get(scope)?.values() ?? [])];
      for (let i = list.length - 1; i >= 0 && rows.length < MAX_ROWS; i--) {
        const q = list[i];
        if (view.tag ? !q.tags.includes(view.tag) : q.tags.length === 0 && !view.untagged) continue;
        rows.push({ text: q.text, count: q.count, tags: q.tags, last: q.last, ...(q.room ? { room: q.room } : {}) });
      }
      return {
        at,
        view,
        total: { m1: total.m1, m5: total.m5 },
        untagged: { m1: untagged.m1, m5: untagged.m5 },
        tags,
        rooms: [...rooms.keys()].sort(),
        questions: rows,
        seen,
        skipped,
      };
    },
  };
}
