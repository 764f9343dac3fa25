/**
 * Synthetic Chinese live-commerce chat for the default tag set: the project's
 * own labeled data for the default model, the demo stream and tests.
 *
 * A comment is either chit-chat (no tag) or one to three intent fragments
 * (generator-intents.ts), each carrying its labels, joined and decorated the way
 * people type in a live room: an address or 请问 in front, typos and homophones,
 * ？/?/~, emoji codes. Noise never adds or removes an intent, so the labels of
 * the fragments are the labels of the comment.
 *
 * Calibrated against 10k real Douyin live comments (LiveChat corpus): their
 * length is mean ~7.4, median 7, p90 12, p99 19 characters, emoji codes appear
 * in ~9% of them. Those streams are not shopping streams, so their share of
 * chit-chat (~95%) is not a target; shopping rooms are set at ~40%.
 */
import { LivetagError } from '../common/errors.ts';
import { DEFAULT_LABELS } from '../model/labels.ts';
import { createRng } from '../model/weights.ts';
import { CATEGORIES, INTENTS, TAG_WEIGHTS, type Category, type Tag } from './generator-intents.ts';
import {
  CHIT_CHAT,
  CHIT_CHAT_CLOSERS,
  CHIT_CHAT_OPENERS,
  CITIES,
  COLORS,
  EMOJI,
  EMOJI_CODES,
  ITEMS,
  MONEY,
  NOISE_RULES,
  PREFIXES,
  ASIDES,
  SHADES,
  SIZES,
} from './generator-vocab.ts';

export type GeneratedComment = { text: string; labels: string[]; room: string; user: string };

export interface CommentGeneratorOptions {
  /** Same seed, same comments. Default 1. */
  readonly seed?: number;
  /**
   * The tags to generate, a subset of DEFAULT_LABELS; comment labels follow
   * this order. Intents outside it are neither generated nor labeled.
   */
  readonly labels?: readonly string[];
}

export interface CommentGenerator {
  readonly labels: readonly string[];
  next(): GeneratedComment;
  take(n: number): GeneratedComment[];
}

const CHIT_CHAT_SHARE = 0.4;
// With the multi-label templates ({color}{size}还有吗), these give about a
// quarter of tagged comments two or more tags.
const SECOND_INTENT = 0.2;
const THIRD_INTENT = 0.12;
const PREFIX_RATE = 0.15;
const ASIDE_RATE = 0.06;
const EMOJI_RATE = 0.08;
const REPEAT_RATE = 0.03;
const CHIT_CHAT_PAIR_RATE = 0.18;
const FILLER_RATE = 0.35;
const ITEM_RATE = 0.2;
const REGULAR_RATE = 0.35;
const REGULARS_KEPT = 30;

// Busy rooms first; room-1 gets about three times the traffic of room-12.
const ROOM_CATEGORIES: readonly Category[] = [
  'clothing', 'clothing', 'beauty', 'clothing', 'food', 'beauty', 'clothing', 'food', 'clothing', 'beauty', 'clothing', 'food',
];
const ROOM_WEIGHTS = ROOM_CATEGORIES.map((_, i) => 1 / (i + 1) ** 0.45);

type Rng = () => number;
type Picker<T> = (rng: Rng) => T;

function weighted<T>(items: readonly T[], weights: readonly number[]): Picker<T> {
  if (items.length === 0) throw new Error('weighted pick from an empty list');
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

/** Lists are ordered by how common an entry is; a gentle power law keeps the tail alive. */
function byPosition<T>(items: readonly T[], skew = 0.7): Picker<T> {
  return weighted(
    items,
    items.map((_, i) => 1 / (i + 1) ** skew),
  );
}

function intBetween(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

function chance(rng: Rng, p: number): boolean {
  return rng() < p;
}

interface Template {
  readonly text: string;
  readonly labels: readonly Tag[];
}

const TAGS: readonly Tag[] = DEFAULT_LABELS;
// Tags whose questions read naturally after a product word; "这个上链接" or "裤子主播好美" would not.
const ITEM_PREFIXABLE = new Set<Tag>(['stock', 'shipping', 'discount', 'quality', 'material', 'color', 'usage', 'after_sales', 'gift', 'size']);
const SLOT_LABEL: Readonly<Record<string, Tag | undefined>> = { color: 'color', shade: 'color', size: 'size', body: 'size' };
const PLAIN_SLOTS = new Set(['item', 'money', 'n', 'link', 'city', 'six', 'laugh', 'ones']);
const SLOT_PATTERN = /\{(\+?)([a-z_]+)\}/g;

function isTag(s: string): s is Tag {
  return (TAGS as readonly string[]).includes(s);
}

function parseTemplate(tag: Tag, text: string): Template {
  const labels = new Set<Tag>([tag]);
  for (const [, plus, name] of text.matchAll(SLOT_PATTERN)) {
    if (plus) {
      if (!isTag(name)) throw new Error(`template "${text}" adds unknown tag ${name}`);
      labels.add(name);
    } else {
      const implied = SLOT_LABEL[name];
      if (implied) labels.add(implied);
      else if (!PLAIN_SLOTS.has(name)) throw new Error(`template "${text}" has unknown slot {${name}}`);
    }
  }
  return { text, labels: [...labels] };
}

/** Templates of a tag usable in a category: the category's own and the general ones, each list weighted by position. */
function templatePicker(tag: Tag, category: Category): Picker<Template> | undefined {
  const lists = INTENTS[tag];
  const own = lists[category] ?? [];
  const general = lists.any ?? [];
  if (own.length + general.length === 0) return undefined;
  const items = [...own, ...general].map((t) => parseTemplate(tag, t));
  // Position within each list, not in the concatenation: a room's own wordings and the general ones both have a head.
  const position = (list: readonly string[]): number[] => list.map((_, i) => 1 / (i + 1) ** 0.55);
  const weights = [...position(own), ...position(general)];
  return weighted(items, weights);
}

const CN_DIGITS = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/** Height and weight the way buyers give them: 120斤, 160 110斤, 一米六五一百二... */
function bodyMeasure(rng: Rng): string {
  const jin = 85 + 5 * intBetween(rng, 0, 23);
  const cm = intBetween(rng, 148, 182);
  const r = rng();
  if (r < 0.4) return `${jin}斤`;
  if (r < 0.55) return `${cm} ${jin}斤`;
  if (r < 0.65) return `${cm}${jin}斤`;
  if (r < 0.75) return `身高${cm}体重${jin}`;
  if (r < 0.85) return `一米${CN_DIGITS[Math.floor(cm / 10) % 10]}${cm % 10 ? CN_DIGITS[cm % 10] : ''} ${jin}斤`;
  if (r < 0.95) return `我${jin}斤`;
  return `${Math.round(jin / 2)}kg`;
}

const pickItem: Readonly<Record<Category, Picker<string>>> = {
  clothing: byPosition(ITEMS.clothing),
  beauty: byPosition(ITEMS.beauty),
  food: byPosition(ITEMS.food),
};
const pickColor = byPosition(COLORS, 0.6);
const pickShade = byPosition(SHADES, 0.6);
const pickSize = byPosition(SIZES);
const pickMoney = byPosition(MONEY);
const pickCity = byPosition(CITIES, 0.5);
const pickChitChat = byPosition(CHIT_CHAT, 0.2);
const pickEmojiCode = byPosition(EMOJI_CODES, 0.9);
const pickEmoji = byPosition(EMOJI);
const pickPrefix = byPosition(PREFIXES);
const pickAside = byPosition(ASIDES);
const pickSeparator = weighted(['，', ' ', '', '？', ',', '?', '。', '！'], [36, 25, 7, 13, 8, 6, 3, 2]);
const pickEnd = weighted(
  ['', '？', '?', '？？', '??', '？？？', '。', '！', '~', '～', '...', '!'],
  [52, 17, 11, 4, 3, 2, 3, 2, 3, 1, 1, 1],
);
const pickChitEnd = weighted(['', '！', '!', '~', '。', '！！', '...'], [84, 4, 3, 4, 2, 2, 1]);

function slotValue(name: string, category: Category, rng: Rng): string {
  switch (name) {
    case 'item':
      return pickItem[category](rng);
    case 'color':
      return pickColor(rng);
    case 'shade':
      return pickShade(rng);
    case 'size': {
      const size = pickSize(rng);
      return chance(rng, 0.3) ? size.toLowerCase() : size;
    }
    case 'body':
      return bodyMeasure(rng);
    case 'money':
      return pickMoney(rng);
    case 'city':
      return pickCity(rng);
    case 'n':
      return String(intBetween(rng, 2, 9));
    case 'link':
      // Hosts go through the cart in order, so low numbers come up most.
      return String(1 + Math.floor(40 * rng() ** 2));
    case 'six':
      return '6'.repeat(intBetween(rng, 3, 8));
    case 'laugh':
      return '哈'.repeat(intBetween(rng, 2, 9));
    case 'ones':
      return '1'.repeat(intBetween(rng, 1, 6));
    default:
      throw new Error(`unknown slot {${name}}`);
  }
}

/** Fills slots; a slot used twice ({color}好看还是{color}好看) gets two different values. */
function fill(text: string, category: Category, rng: Rng): string {
  const used = new Set<string>();
  return text.replace(SLOT_PATTERN, (_, plus: string, name: string) => {
    if (plus) return '';
    let value = slotValue(name, category, rng);
    for (let i = 0; i < 5 && used.has(value); i++) value = slotValue(name, category, rng);
    used.add(value);
    return value;
  });
}

function addNoise(text: string, rng: Rng): string {
  let out = text;
  for (const [from, to, p] of NOISE_RULES) {
    if (out.includes(from) && chance(rng, p)) out = out.replace(from, to[Math.floor(rng() * to.length)]);
  }
  return out;
}

function emojiTail(rng: Rng): string {
  const unit = chance(rng, 0.85) ? pickEmojiCode(rng) : pickEmoji(rng);
  const r = rng();
  const times = r < 0.6 ? 1 : r < 0.85 ? 2 : 3;
  return (chance(rng, 0.15) ? ' ' : '') + unit.repeat(times);
}

// A question word near the end: "主播好美" gets ！ or nothing, "包邮吗" gets ？ as often as not.
const QUESTION = /(吗|嘛|么|ma|呢|啥|几|多少|哪|什么|怎么|咋|不|没|多大|多高|多重|多久|还是)[^，,？?。！!\s]{0,6}$/;
const NO_PARTICLE_AFTER = /[吗嘛么呢呀啊吧哇a-zA-Z0-9？?！!。~～.]$/;

function decorateIntent(text: string, singleShort: boolean, rng: Rng): string {
  let out = text;
  if (singleShort && chance(rng, REPEAT_RATE)) out = out + (chance(rng, 0.3) ? ' ' : '') + out;
  if (!NO_PARTICLE_AFTER.test(out) && chance(rng, 0.06)) out += pickOne(rng, ['呀', '呢', '啊', '哇', '嘞']);
  if (!/[？?！!。~～.]$/.test(out)) out += QUESTION.test(out) ? pickEnd(rng) : pickChitEnd(rng);
  if (chance(rng, ASIDE_RATE)) out += (/[？?！!。~～.]$/.test(out) ? pickOne(rng, ['', ' ']) : pickOne(rng, [' ', '，'])) + pickAside(rng);
  if (chance(rng, EMOJI_RATE)) out += emojiTail(rng);
  return out;
}

function pickOne<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}

export function createCommentGenerator(options: CommentGeneratorOptions = {}): CommentGenerator {
  const labels = options.labels ?? DEFAULT_LABELS;
  if (labels.length === 0) throw new LivetagError('LT_CONFIG_INVALID', 'labels must name at least one tag');
  for (const label of labels) {
    if (!isTag(label)) {
      throw new LivetagError('LT_CONFIG_INVALID', `the generator has no comments for label "${label}" (it knows ${TAGS.join(', ')})`);
    }
  }
  if (new Set(labels).size !== labels.length) throw new LivetagError('LT_CONFIG_INVALID', 'labels has a duplicate');
  const active = labels as readonly Tag[];
  const order = new Map<Tag, number>(active.map((t, i) => [t, i]));
  const rng = createRng(options.seed ?? 1);

  const templates = new Map<string, Picker<Template>>();
  for (const tag of active) {
    for (const category of CATEGORIES) {
      const picker = templatePicker(tag, category);
      if (picker) templates.set(`${tag}/${category}`, picker);
    }
  }
  const hasTemplates = (tag: Tag, category: Category): boolean => templates.has(`${tag}/${category}`);

  const roomIndexes = ROOM_CATEGORIES.map((_, i) => i);
  const anyRoom = weighted(roomIndexes, ROOM_WEIGHTS);
  const roomFor = new Map<Tag, Picker<number>>();
  for (const tag of active) {
    const rooms = roomIndexes.filter((i) => hasTemplates(tag, ROOM_CATEGORIES[i]));
    roomFor.set(tag, weighted(rooms, rooms.map((i) => ROOM_WEIGHTS[i])));
  }
  const pickPrimary = weighted(active, active.map((t) => TAG_WEIGHTS[t]));
  const regulars: string[][] = ROOM_CATEGORIES.map(() => []);

  const fragment = (tag: Tag, category: Category): { text: string; labels: readonly Tag[] } => {
    const template = templates.get(`${tag}/${category}`)!(rng);
    let text = fill(template.text, category, rng);
    // "这件包邮吗", "裤子会起球吗": naming the product changes nothing about the intent.
    if (ITEM_PREFIXABLE.has(tag) && !/^(这|\{item\})/.test(template.text) && chance(rng, ITEM_RATE)) {
      text = pickItem[category](rng) + text;
    }
    return { text: addNoise(text, rng), labels: template.labels };
  };

  const chitChat = (category: Category): string => {
    let text = addNoise(fill(pickChitChat(rng), category, rng), rng);
    if (chance(rng, CHIT_CHAT_PAIR_RATE)) {
      text += pickOne(rng, [' ', '，', ' ', '！', ',']) + addNoise(fill(pickChitChat(rng), category, rng), rng);
    } else if (chance(rng, FILLER_RATE)) {
      text = chance(rng, 0.4) ? pickOne(rng, CHIT_CHAT_OPENERS) + text : text + pickOne(rng, CHIT_CHAT_CLOSERS);
    }
    if (!/[？?！!。~～.\]]$/.test(text)) text += pickChitEnd(rng);
    if (chance(rng, EMOJI_RATE)) text += emojiTail(rng);
    return text;
  };

  const tagged = (): { text: string; labels: Set<Tag>; room: number } => {
    const primary = pickPrimary(rng);
    const room = roomFor.get(primary)!(rng);
    const category = ROOM_CATEGORIES[room];
    const first = fragment(primary, category);
    const parts = [first.text];
    const found = new Set<Tag>(first.labels.filter((t) => order.has(t)));
    let more = chance(rng, SECOND_INTENT) ? (chance(rng, THIRD_INTENT) ? 2 : 1) : 0;
    while (more-- > 0) {
      const candidates = active.filter((t) => !found.has(t) && hasTemplates(t, category));
      if (candidates.length === 0) break;
      const next = fragment(weighted(candidates, candidates.map((t) => TAG_WEIGHTS[t]))(rng), category);
      for (const t of next.labels) if (order.has(t)) found.add(t);
      // The main question is usually typed first, but not always.
      if (chance(rng, 0.3)) parts.unshift(next.text);
      else parts.push(next.text);
    }
    let text = parts.reduce((acc, part) => acc + pickSeparator(rng) + part);
    const single = parts.length === 1;
    if (!found.has('host') && chance(rng, PREFIX_RATE)) {
      text = pickPrefix(rng) + pickOne(rng, ['', '', ' ', '，', ',']) + text;
    }
    text = decorateIntent(text, single && [...text].length <= 5, rng);
    return { text, labels: found, room };
  };

  const user = (room: number): string => {
    const seen = regulars[room];
    if (seen.length > 0 && chance(rng, REGULAR_RATE)) return pickOne(rng, seen);
    const id = `u${intBetween(rng, 1000, 99999)}`;
    seen.push(id);
    if (seen.length > REGULARS_KEPT) seen.shift();
    return id;
  };

  const next = (): GeneratedComment => {
    let text: string;
    let found: Set<Tag>;
    let room: number;
    if (chance(rng, CHIT_CHAT_SHARE)) {
      room = anyRoom(rng);
      text = chitChat(ROOM_CATEGORIES[room]);
      found = new Set();
    } else {
      ({ text, labels: found, room } = tagged());
    }
    return {
      text: text.trim(),
      labels: [...found].sort((a, b) => order.get(a)! - order.get(b)!),
      room: `room-${room + 1}`,
      user: user(room),
    };
  };

  return {
    labels: [...active],
    next,
    take(n) {
      if (!Number.isInteger(n) || n < 0) throw new LivetagError('LT_CONFIG_INVALID', `cannot take ${n} comments`);
      return Array.from({ length: n }, next);
    },
  };
}
