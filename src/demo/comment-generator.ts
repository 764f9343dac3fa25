/**
 * Synthetic Chinese live-commerce chat for the default tag set: the project's
 * own labeled data for the default model, the demo stream and tests.
 *
 * A comment is either chit-chat (no tag) or one to three intent fragments
 * (generator-intents.ts, filled by generator-slots.ts), each carrying its
 * labels, joined and decorated the way people type in a live room
 * (generator-typing.ts). Decoration never adds or removes an intent, so the
 * labels of the fragments are the labels of the comment.
 *
 * Calibrated against 10k real Douyin live comments (LiveChat corpus): their
 * length is mean ~7.4, median 7, p90 12, p99 19 characters, emoji codes appear
 * in ~9% of them. Those streams are not shopping streams, so their share of
 * chit-chat is not a target; shopping rooms are set by MIX.chitChat.
 */
import { LivetagError } from '../common/errors.ts';
import { createRng } from '../common/rng.ts';
import { DEFAULT_LABELS } from '../model/labels.ts';
import { CATEGORIES, TAG_WEIGHTS, type Category, type Tag } from './generator-intents.ts';
import { chance, intBetween, pickOne, weighted, type Picker, type Rng } from './generator-picks.ts';
import { TAGS, fill, isTag, pickItem, templatePicker, type Template } from './generator-slots.ts';
import { addNoise, chitChatText, decorateIntent, joinFragments, maybeAddress } from './generator-typing.ts';

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

/** The shape of the stream: how comments mix intents, rooms and users. */
const MIX = {
  /** Share of comments with no shopping intent. */
  chitChat: 0.4,
  // With the multi-label templates ({color}{size}还有吗), these two set how
  // many tagged comments carry two or more tags.
  secondIntent: 0.2,
  thirdIntent: 0.12,
  /** A product word in front of a question that reads naturally with one ("裤子会起球吗"). */
  itemPrefix: 0.2,
  /** Share of comments from a room's recent regulars rather than a new user. */
  regular: 0.35,
  regularsKept: 30,
} as const;

// Busy rooms first; room-1 gets about three times the traffic of room-12.
const ROOM_CATEGORIES: readonly Category[] = [
  'clothing', 'clothing', 'beauty', 'clothing', 'food', 'beauty', 'clothing', 'food', 'clothing', 'beauty', 'clothing', 'food',
];
const ROOM_WEIGHTS = ROOM_CATEGORIES.map((_, i) => 1 / (i + 1) ** 0.45);
const ROOM_INDEXES = ROOM_CATEGORIES.map((_, i) => i);

// Tags whose questions read naturally after a product word; "这个上链接" or "裤子主播好美" would not.
const ITEM_PREFIXABLE = new Set<Tag>(['stock', 'shipping', 'discount', 'quality', 'material', 'color', 'usage', 'after_sales', 'gift', 'size']);

/** What one generator draws from, fixed by its labels. */
interface Source {
  readonly active: readonly Tag[];
  /** Output position of each active tag. */
  readonly order: ReadonlyMap<Tag, number>;
  /** Keyed `tag/category`; absent where a tag has no wording for a category. */
  readonly templates: ReadonlyMap<string, Picker<Template>>;
  /** The rooms in which a tag's questions make sense, weighted by traffic. */
  readonly roomFor: ReadonlyMap<Tag, Picker<number>>;
  readonly pickPrimary: Picker<Tag>;
}

function checkLabels(labels: readonly string[]): readonly Tag[] {
  if (labels.length === 0) throw new LivetagError('LT_CONFIG_INVALID', 'labels must name at least one tag');
  for (const label of labels) {
    if (!isTag(label)) {
      throw new LivetagError('LT_CONFIG_INVALID', `the generator has no comments for label "${label}" (it knows ${TAGS.join(', ')})`);
    }
  }
  if (new Set(labels).size !== labels.length) throw new LivetagError('LT_CONFIG_INVALID', 'labels has a duplicate');
  return labels as readonly Tag[];
}

function createSource(active: readonly Tag[]): Source {
  const templates = new Map<string, Picker<Template>>();
  for (const tag of active) {
    for (const category of CATEGORIES) {
      const picker = templatePicker(tag, category);
      if (picker) templates.set(`${tag}/${category}`, picker);
    }
  }
  const roomFor = new Map<Tag, Picker<number>>();
  for (const tag of active) {
    const rooms = ROOM_INDEXES.filter((i) => templates.has(`${tag}/${ROOM_CATEGORIES[i]}`));
    roomFor.set(tag, weighted(rooms, rooms.map((i) => ROOM_WEIGHTS[i])));
  }
  return {
    active,
    order: new Map(active.map((t, i) => [t, i])),
    templates,
    roomFor,
    pickPrimary: weighted(active, active.map((t) => TAG_WEIGHTS[t])),
  };
}

function fragment(src: Source, tag: Tag, category: Category, rng: Rng): { text: string; labels: readonly Tag[] } {
  const template = src.templates.get(`${tag}/${category}`)!(rng);
  let text = fill(template.text, category, rng);
  // "这件包邮吗", "裤子会起球吗": naming the product changes nothing about the intent.
  if (ITEM_PREFIXABLE.has(tag) && !/^(这|\{item\})/.test(template.text) && chance(rng, MIX.itemPrefix)) {
    text = pickItem[category](rng) + text;
  }
  return { text: addNoise(text, rng), labels: template.labels };
}

function tagged(src: Source, rng: Rng): { text: string; labels: Set<Tag>; room: number } {
  const primary = src.pickPrimary(rng);
  const room = src.roomFor.get(primary)!(rng);
  const category = ROOM_CATEGORIES[room];
  const first = fragment(src, primary, category, rng);
  const parts = [first.text];
  const found = new Set<Tag>(first.labels.filter((t) => src.order.has(t)));
  let more = chance(rng, MIX.secondIntent) ? (chance(rng, MIX.thirdIntent) ? 2 : 1) : 0;
  while (more-- > 0) {
    const candidates = src.active.filter((t) => !found.has(t) && src.templates.has(`${t}/${category}`));
    if (candidates.length === 0) break;
    const next = fragment(src, weighted(candidates, candidates.map((t) => TAG_WEIGHTS[t]))(rng), category, rng);
    for (const t of next.labels) if (src.order.has(t)) found.add(t);
    // The main question is usually typed first, but not always.
    if (chance(rng, 0.3)) parts.unshift(next.text);
    else parts.push(next.text);
  }
  let text = joinFragments(parts, rng);
  const single = parts.length === 1;
  // A remark to the host already addresses them.
  if (!found.has('host')) text = maybeAddress(text, rng);
  text = decorateIntent(text, single && [...text].length <= 5, rng);
  return { text, labels: found, room };
}

export function createCommentGenerator(options: CommentGeneratorOptions = {}): CommentGenerator {
  const src = createSource(checkLabels(options.labels ?? DEFAULT_LABELS));
  const rng = createRng(options.seed ?? 1);
  const anyRoom = weighted(ROOM_INDEXES, ROOM_WEIGHTS);
  const regulars: string[][] = ROOM_CATEGORIES.map(() => []);

  const user = (room: number): string => {
    const seen = regulars[room];
    if (seen.length > 0 && chance(rng, MIX.regular)) return pickOne(rng, seen);
    const id = `u${intBetween(rng, 1000, 99999)}`;
    seen.push(id);
    if (seen.length > MIX.regularsKept) seen.shift();
    return id;
  };

  const next = (): GeneratedComment => {
    let text: string;
    let found: Set<Tag>;
    let room: number;
    if (chance(rng, MIX.chitChat)) {
      room = anyRoom(rng);
      text = chitChatText(ROOM_CATEGORIES[room], rng);
      found = new Set();
    } else {
      ({ text, labels: found, room } = tagged(src, rng));
    }
    return {
      text: text.trim(),
      labels: [...found].sort((a, b) => src.order.get(a)! - src.order.get(b)!),
      room: `room-${room + 1}`,
      user: user(room),
    };
  };

  return {
    labels: [...src.active],
    next,
    take(n) {
      if (!Number.isInteger(n) || n < 0) throw new LivetagError('LT_CONFIG_INVALID', `cannot take ${n} comments`);
      return Array.from({ length: n }, next);
    },
  };
}
