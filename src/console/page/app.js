// The host console page. Plain script, no build step. Comment text is
// untrusted: it only ever reaches the DOM through textContent, never as HTML.
'use strict';

/** Douyin/Kuaishou sticker codes shown as the emoji they stand for; others stay as a code chip. */
const EMOJI = {
  '赞': '👍', '比心': '🫶', '爱心': '❤️', '玫瑰': '🌹', '捂脸': '🤦', '呲牙': '😁', '流泪': '😢', '泪奔': '😭',
  '偷笑': '🤭', '大笑': '😄', '害羞': '😊', '鼓掌': '👏', '笑哭': '😂', '微笑': '🙂', '送心': '💝', '666': '👌',
  '看': '👀', '发呆': '😶', '可怜': '🥺', '舔屏': '😋', '尬笑': '😅', '酷拽': '😎', '抠鼻': '🤔', '暗中观察': '🫣',
};
const STICKER = /\[([^\[\]\s]{1,6})\]/g;
const MAX_ROWS = 30;

const state = { room: '', tag: '', untagged: false, latest: null, scheduled: false, source: null, retry: 500 };
const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = String(text);
  return e;
}

/** Text with sticker codes turned into spans: each piece is a text node, nothing is parsed as markup. */
function richText(text) {
  const span = el('span', 'text');
  let at = 0;
  for (const m of text.matchAll(STICKER)) {
    if (m.index > at) span.append(document.createTextNode(text.slice(at, m.index)));
    const emoji = EMOJI[m[1]];
    const e = el('span', 'emo', emoji || m[0]);
    e.title = m[0];
    span.append(e);
    at = m.index + m[0].length;
  }
  if (at < text.length) span.append(document.createTextNode(text.slice(at)));
  return span;
}

function points(values) {
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? 100 / (values.length - 1) : 100;
  return values.map((v, i) => `${(i * step).toFixed(1)},${(26 - (v / max) * 24).toFixed(1)}`).join(' ');
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Puts `nodes` into `parent` in order, moving only what is out of place: unchanged rows keep their layout. */
function reconcile(parent, nodes) {
  let cur = parent.firstChild;
  for (const node of nodes) {
    if (cur === node) cur = cur.nextSibling;
    else parent.insertBefore(node, cur);
  }
  while (cur) {
    const next = cur.nextSibling;
    cur.remove();
    cur = next;
  }
}

const cards = new Map();
let rows = new Map();

function makeCard(label) {
  const ns = 'http://www.w3.org/2000/svg';
  const node = el('button', 'tag');
  node.type = 'button';
  node.dataset.tag = label;
  const m1 = el('span', 'm1');
  const m5 = el('div', 'm5');
  const counts = el('div');
  counts.append(m1, el('span', 'unit', 'in 1 min'));
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 100 28');
  svg.setAttribute('preserveAspectRatio', 'none');
  const line = document.createElementNS(ns, 'polyline');
  svg.append(line);
  node.append(el('div', 'name', label), counts, m5, svg);
  node.addEventListener('click', () => setView({ tag: state.tag === label ? '' : label }));
  return { node, m1, m5, line };
}

function renderTags(snap) {
  const sorted = [...snap.tags].sort((a, b) => b.m5 - a.m5 || a.label.localeCompare(b.label));
  const nodes = [];
  for (const t of sorted) {
    let card = cards.get(t.label);
    if (!card) cards.set(t.label, (card = makeCard(t.label)));
    card.node.classList.toggle('on', state.tag === t.label);
    setText(card.m1, String(t.m1));
    setText(card.m5, `${t.m5} in 5 min`);
    const p = points(t.spark);
    if (card.line.getAttribute('points') !== p) card.line.setAttribute('points', p);
    nodes.push(card.node);
  }
  reconcile($('tags'), nodes);
}

function makeRow(q) {
  const li = el('li');
  const count = el('span', 'count');
  const chips = el('span', 'chips');
  for (const t of q.tags) chips.append(el('span', 'chip', t));
  if (q.room && !state.room) chips.append(el('span', 'chip room', q.room));
  li.append(richText(q.text), count, chips);
  return { li, count, shown: 0, tags: q.tags.join(',') };
}

function renderQuestions(snap) {
  const next = new Map();
  const nodes = [];
  for (const q of snap.questions.slice(0, MAX_ROWS)) {
    let row = rows.get(q.text);
    if (!row || row.tags !== q.tags.join(',')) row = makeRow(q);
    if (row.shown !== q.count) {
      row.count.textContent = q.count > 1 ? `×${q.count}` : '';
      row.shown = q.count;
    }
    next.set(q.text, row);
    nodes.push(row.li);
  }
  rows = next;
  reconcile($('questions'), nodes);
  setText($('feed-title'), state.tag ? `newest "${state.tag}" questions (click the card again for all)` : 'newest questions');
}

function renderRooms(snap) {
  const select = $('room');
  const known = [...select.options].map((o) => o.value).slice(1);
  const rooms = [...new Set([...snap.rooms, ...(state.room ? [state.room] : [])])].sort();
  if (rooms.join('\u0000') === known.join('\u0000')) return;
  const options = [el('option', '', 'all rooms'), ...rooms.map((r) => el('option', '', r))];
  options[0].value = '';
  rooms.forEach((r, i) => (options[i + 1].value = r));
  select.replaceChildren(...options);
  select.value = state.room;
}

function render() {
  state.scheduled = false;
  const snap = state.latest;
  if (!snap) return;
  setText(
    $('summary'),
    `${snap.total.m1} comments in the last minute · ${snap.total.m5} in 5 min · untagged chatter ${snap.untagged.m1}/min` +
      (snap.skipped ? ` · ${snap.skipped} unreadable records skipped` : ''),
  );
  renderTags(snap);
  renderQuestions(snap);
  renderRooms(snap);
}

/** Snapshots may arrive faster than frames: keep the newest, draw once per frame. */
function onSnapshot(event) {
  state.latest = JSON.parse(event.data);
  state.retry = 500;
  if (!state.scheduled) {
    state.scheduled = true;
    requestAnimationFrame(render);
  }
}

function setStatus(live, text) {
  const s = $('status');
  s.textContent = text;
  s.className = live ? 'status live' : 'status';
}

function connect() {
  if (state.source) state.source.close();
  const q = new URLSearchParams();
  if (state.room) q.set('room', state.room);
  if (state.tag) q.set('tag', state.tag);
  if (state.untagged) q.set('untagged', '1');
  const source = new EventSource(`/events?${q}`);
  state.source = source;
  source.onopen = () => setStatus(true, 'live');
  source.onmessage = onSnapshot;
  source.onerror = () => {
    setStatus(false, 'reconnecting…');
    // The browser retries by itself unless it gave up (CLOSED); then we do, backing off.
    if (source.readyState === EventSource.CLOSED && state.source === source) {
      setTimeout(() => state.source === source && connect(), state.retry);
      state.retry = Math.min(state.retry * 2, 10_000);
    }
  };
}

function setView(change) {
  Object.assign(state, change);
  rows = new Map(); // room chips depend on the view
  const url = new URL(location.href);
  for (const k of ['room', 'tag']) state[k] ? url.searchParams.set(k, state[k]) : url.searchParams.delete(k);
  state.untagged ? url.searchParams.set('untagged', '1') : url.searchParams.delete('untagged');
  history.replaceState(null, '', url);
  connect();
}

function init() {
  const params = new URLSearchParams(location.search);
  state.room = params.get('room') || '';
  state.tag = params.get('tag') || '';
  state.untagged = params.get('untagged') === '1';
  $('untagged').checked = state.untagged;
  $('untagged').addEventListener('change', (e) => setView({ untagged: e.target.checked }));
  $('room').addEventListener('change', (e) => setView({ room: e.target.value }));
  connect();
}

init();
