/**
 * Intent templates for the comment generator: parsing a template's labels out
 * of its slots, and filling the slots with words a buyer in that room would use.
 */
import { LivetagError } from '../common/errors.ts';
import { DEFAULT_LABELS } from '../model/labels.ts';
import { INTENTS, type Category, type Tag } from './generator-intents.ts';
import { byPosition, chance, intBetween, positionWeights, weighted, type Picker, type Rng } from './generator-picks.ts';
import { CITIES, COLORS, ITEMS, MONEY, SHADES, SIZES } from './generator-vocab.ts';

export interface Template {
  readonly text: string;
  readonly labels: readonly Tag[];
}

export const TAGS: readonly Tag[] = DEFAULT_LABELS;
const SLOT_LABEL: Readonly<Record<string, Tag | undefined>> = { color: 'color', shade: 'color', size: 'size', body: 'size' };
const PLAIN_SLOTS = new Set(['item', 'money', 'n', 'link', 'city', 'six', 'laugh', 'ones']);
const SLOT_PATTERN = /\{(\+?)([a-z_]+)\}/g;

export function isTag(s: string): s is Tag {
  return (TAGS as readonly string[]).includes(s);
}

function parseTemplate(tag: Tag, text: string): Template {
  const labels = new Set<Tag>([tag]);
  for (const [, plus, name] of text.matchAll(SLOT_PATTERN)) {
    if (plus) {
      if (!isTag(name)) throw new LivetagError('LT_INTERNAL', `template "${text}" adds unknown tag ${name}`);
      labels.add(name);
    } else {
      const implied = SLOT_LABEL[name];
      if (implied) labels.add(implied);
      else if (!PLAIN_SLOTS.has(name)) throw new LivetagError('LT_INTERNAL', `template "${text}" has unknown slot {${name}}`);
    }
  }
  return { text, labels: [...labels] };
}

/** Templates of a tag usable in a category: the category's own and the general ones, each list weighted by position. */
export function templatePicker(tag: Tag, category: Category): Picker<Template> | undefined {
  const lists = INTENTS[tag];
  const own = lists[category] ?? [];
  const general = lists.any ?? [];
  if (own.length + general.length === 0) return undefined;
  const items = [...own, ...general].map((t) => parseTemplate(tag, t));
  // Position within each list, not in the concatenation: a room's own wordings and the general ones both have a head.
  return weighted(items, [...positionWeights(own, 0.55), ...positionWeights(general, 0.55)]);
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

export const pickItem: Readonly<Record<Category, Picker<string>>> = {
  clothing: byPosition(ITEMS.clothing),
  beauty: byPosition(ITEMS.beauty),
  food: byPosition(ITEMS.food),
};
const pickColor = byPosition(COLORS, 0.6);
const pickShade = byPosition(SHADES, 0.6);
const pickSize = byPosition(SIZES);
const pickMoney = byPosition(MONEY);
const pickCity = byPosition(CITIES, 0.5);

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
      throw new LivetagError('LT_INTERNAL', `unknown slot {${name}}`);
  }
}

/** Fills slots; a slot used twice ({color}好看还是{color}好看) gets two different values. */
export function fill(text: string, category: Category, rng: Rng): string {
  const used = new Set<string>();
  return text.replace(SLOT_PATTERN, (_, plus: string, name: string) => {
    if (plus) return '';
    let value = slotValue(name, category, rng);
    for (let i = 0; i < 5 && used.has(value); i++) value = slotValue(name, category, rng);
    used.add(value);
    return value;
  });
}
