import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConsoleService, type ConsoleService } from '../../../src/console/console-service.ts';
import { createKafkaClient } from '../../../src/kafka/client.ts';
import type { KafkaClient, KafkaProducer } from '../../../src/kafka/port.ts';
import { brokersFromEnv, useTopic, waitUntil } from '../helpers/kafka.ts';
import { openPage, shownCounts, useBrowser } from './browser.ts';

// The page's globals, in functions that run in the browser (the project has no DOM lib).
declare const document: any;
declare const window: any;

const XSS = '<img src=x onerror=alert(1)>多少钱';

function record(topic: string, i: number, text: string, labels: string[], room: string): { topic: string; key: string; value: string } {
  const now = Date.now();
  const value = {
    id: `c-${i}`,
    room,
    text,
    tags: labels.map((label) => ({ label, score: 0.93 })),
    model: { id: 'test', version: '1' },
    source: { topic: 'in', partition: 0, offset: String(i) },
    timing: { producedAt: now, classifiedAt: now },
  };
  return { topic, key: room, value: JSON.stringify(value) };
}

/** What is produced: 12 repeats of one size/stock question, price, shipping, chatter, and the hostile comment. */
function batch(topic: string): ReturnType<typeof record>[] {
  const out: ReturnType<typeof record>[] = [];
  let i = 0;
  for (let k = 0; k < 12; k++) out.push(record(topic, i++, 'M码还有吗', ['size', 'stock'], k % 2 ? 'room-a' : 'room-b'));
  for (let k = 0; k < 6; k++) out.push(record(topic, i++, `这个多少钱[赞]${k}`, ['price'], 'room-a'));
  out.push(record(topic, i++, XSS, ['price'], 'room-a'));
  out.push(record(topic, i++, '<script>window.pwned=1</script>几号发货', ['shipping'], 'room-b'));
  for (let k = 0; k < 2; k++) out.push(record(topic, i++, `今天发货吗${k}`, ['shipping'], 'room-b'));
  for (let k = 0; k < 4; k++) out.push(record(topic, i++, `来了来了[比心]${k}`, [], 'room-a'));
  return out;
}

/**
 * "Joined" is not yet "positioned at the latest offsets": a record produced in
 * between would be skipped. Unreadable probes go out until the console has
 * read one, so what follows is certainly counted (the probes count as skipped only).
 */
async function untilReading(service: ConsoleService, producer: KafkaProducer, topic: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (service.aggregator.snapshot({}).skipped === 0) {
    if (Date.now() > deadline) throw new Error('the console read none of the probes in 60 s');
    await producer.send([{ topic, key: 'room-a', value: 'not json {' }]);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function startConsole(client: KafkaClient, topic: string, port: number): Promise<ConsoleService> {
  const service = createConsoleService({ topic, host: '127.0.0.1', port, kafka: client });
  await service.start();
  await waitUntil(() => service.isReady(), 60_000, 'the console consumer to join its group');
  return service;
}

test('the console in a real browser: counts match what was produced, hostile comments stay text, it survives a restart', { timeout: 240_000 }, async (t) => {
  const browser = await useBrowser(t);
  if (!browser) return;
  const client = await createKafkaClient({ connection: { brokers: brokersFromEnv(), clientId: 'console-test' }, logLevel: 'nothing' });
  const topic = await useTopic(t, { prefix: 'console-tags', partitions: 2 });
  let service = await startConsole(client, topic, 0);
  t.after(() => service.stop());
  const port = service.port;
  const { page, dialogs, errors } = await openPage(browser, service.url);
  await page.waitForSelector('#status.live');

  const producer = client.producer();
  await producer.start();
  t.after(() => producer.stop());
  await untilReading(service, producer, topic);
  await producer.send(batch(topic));

  const expected = { size: 12, stock: 12, price: 7, shipping: 3 };
  await page.waitForFunction((n) => document.querySelectorAll('#tags .tag').length === n, Object.keys(expected).length, { timeout: 30_000 });
  await page.waitForFunction(() => document.querySelector('#summary').textContent.startsWith('26 comments'), undefined, { timeout: 30_000 });
  assert.match((await page.textContent('#summary')) ?? '', /unreadable records skipped/, 'the probes are reported, not shown');
  assert.deepEqual(await shownCounts(page), expected);
  assert.match((await page.textContent('#summary')) ?? '', /^26 comments in the last minute/);

  // Repeats collapse; the hostile comments are shown as the text they are and run nothing.
  const rows = await page.$$eval('#questions li', (lis) => lis.map((li) => li.textContent ?? ''));
  assert.ok(rows.some((r) => r.startsWith('M码还有吗×12')), rows.join('\n'));
  assert.ok(rows.some((r) => r.startsWith(XSS)), 'the <img> comment appears verbatim as text');
  assert.ok(rows.some((r) => r.startsWith('<script>window.pwned=1</script>几号发货')));
  assert.equal(await page.$$eval('#questions img, #questions script', (n) => n.length), 0);
  assert.equal(await page.evaluate(() => typeof window.pwned), 'undefined');
  assert.deepEqual(dialogs, [], 'no alert() ran');
  assert.ok(rows.every((r) => !r.startsWith('来了来了')), 'untagged chatter is hidden by default');
  assert.equal(await page.$$eval('#questions .emo', (e) => e.filter((x) => x.textContent === '👍').length), 6, '[赞] shows as 👍');

  await page.check('#untagged');
  await page.waitForFunction(() => [...document.querySelectorAll('#questions li')].some((li: any) => li.textContent.startsWith('来了来了')));

  await page.click('#tags .tag[data-tag="shipping"]');
  await page.waitForFunction(() => document.querySelectorAll('#questions li').length === 3 && document.querySelector('.tag.on')?.dataset.tag === 'shipping');
  await page.click('#tags .tag[data-tag="shipping"]');

  await page.selectOption('#room', 'room-b');
  await page.waitForFunction(() => document.querySelector('#summary').textContent.startsWith('9 comments'), undefined, { timeout: 10_000 });
  assert.deepEqual(await shownCounts(page), { size: 6, stock: 6, price: 0, shipping: 3 });
  await page.selectOption('#room', '');

  // Restart on the same port: the page notices, reconnects by itself and shows what comes next.
  await service.stop();
  await page.waitForSelector('#status:not(.live)', { timeout: 10_000 });
  service = await startConsole(client, topic, port);
  await untilReading(service, producer, topic);
  const again = Array.from({ length: 5 }, (_, k) => record(topic, 100 + k, `还有优惠吗${k}`, ['discount'], 'room-a'));
  await producer.send(again);
  await page.waitForSelector('#status.live', { timeout: 30_000 });
  await page.waitForFunction(() => document.querySelector('#tags .tag[data-tag="discount"] .m1')?.textContent === '5', undefined, { timeout: 30_000 });
  assert.deepEqual(errors, [], 'no script errors on the page');
  if (process.env.LIVETAG_CONSOLE_SCREENSHOT) await page.screenshot({ path: process.env.LIVETAG_CONSOLE_SCREENSHOT });
});
