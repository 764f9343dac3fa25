/**
 * How people type in a live room, applied to generated comments: typos and
 * homophones, endings (？/?/~), asides, emoji codes, an address in front.
 * None of it adds or removes an intent, so labels never depend on it.
 */
import type { Category } from './generator-intents.ts';
import { byPosition, chance, pickOne, weighted, type Rng } from './generator-picks.ts';
import { openChatText } from './generator-open-chat.ts';
import { fill } from './generator-slots.ts';
import { ASIDES, CHIT_CHAT, CHIT_CHAT_CLOSERS, CHIT_CHAT_OPENERS, EMOJI, EMOJI_CODES, NOISE_RULES, PREFIXES } from './generator-vocab.ts';

/** How often each decoration is added, per comment. */
const RATE = {
  /** 请问/主播/宝宝… in front of a question. */
  address: 0.15,
  aside: 0.06,
  emoji: 0.08,
  /** A short question typed twice in one message. */
  repeat: 0.03,
  /** Two chit-chat lines in one message. */
  chitChatPair: 0.18,
  /** 哈哈/家人们… before or after a chit-chat line. */
  chitChatFiller: 0.35,
  /** 哈哈/宝子们… around a question too, so laughter is not read as "no question here". */
  intentFiller: 0.05,
  /** Chit-chat from the open grammar (generator-open-chat.ts) rather than the one-liners. */
  openChat: 0.5,
} as const;

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

// A question word near the end: "主播好美" gets ！ or nothing, "包邮吗" gets ？ as often as not.
const QUESTION = /(吗|嘛|么|ma|呢|啥|几|多少|哪|什么|怎么|咋|不|没|多大|多高|多重|多久|还是)[^，,？?。！!\s]{0,6}$/;
const NO_PARTICLE_AFTER = /[吗嘛么呢呀啊吧哇a-zA-Z0-9？?！!。~～.]$/;
const ENDS_IN_PUNCTUATION = /[？?！!。~～.]$/;

export function addNoise(text: string, rng: Rng): string {
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

/** Intent fragments typed one after another in one message. */
export function joinFragments(parts: readonly string[], rng: Rng): string {
  return parts.reduce((acc, part) => acc + pickSeparator(rng) + part);
}

/** Sometimes addresses the host or the room before the question. */
export function maybeAddress(text: string, rng: Rng): string {
  if (!chance(rng, RATE.address)) return text;
  return pickPrefix(rng) + pickOne(rng, ['', '', ' ', '，', ',']) + text;
}

export function decorateIntent(text: string, singleShort: boolean, rng: Rng): string {
  let out = text;
  if (singleShort && chance(rng, RATE.repeat)) out = out + (chance(rng, 0.3) ? ' ' : '') + out;
  if (!NO_PARTICLE_AFTER.test(out) && chance(rng, 0.06)) out += pickOne(rng, ['呀', '呢', '啊', '哇', '嘞']);
  if (!ENDS_IN_PUNCTUATION.test(out)) out += QUESTION.test(out) ? pickEnd(rng) : pickChitEnd(rng);
  if (chance(rng, RATE.intentFiller)) out = chance(rng, 0.3) ? pickOne(rng, CHIT_CHAT_OPENERS) + out : out + pickOne(rng, CHIT_CHAT_CLOSERS);
  if (chance(rng, RATE.aside)) out += (ENDS_IN_PUNCTUATION.test(out) ? pickOne(rng, ['', ' ']) : pickOne(rng, [' ', '，'])) + pickAside(rng);
  if (chance(rng, RATE.emoji)) out += emojiTail(rng);
  return out;
}

/** A comment without a shopping intent: greetings, reactions, banter. */
export function chitChatText(category: Category, rng: Rng): string {
  let text = addNoise(chance(rng, RATE.openChat) ? openChatText(category, rng) : fill(pickChitChat(rng), category, rng), rng);
  if (chance(rng, RATE.chitChatPair)) {
    text += pickOne(rng, [' ', '，', ' ', '！', ',']) + addNoise(fill(pickChitChat(rng), category, rng), rng);
  } else if (chance(rng, RATE.chitChatFiller)) {
    text = chance(rng, 0.4) ? pickOne(rng, CHIT_CHAT_OPENERS) + text : text + pickOne(rng, CHIT_CHAT_CLOSERS);
  }
  if (!/[？?！!。~～.\]]$/.test(text)) text += pickChitEnd(rng);
  if (chance(rng, RATE.emoji)) text += emojiTail(rng);
  return text;
}
