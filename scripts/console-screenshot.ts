/**
 * The README's picture of the host console, taken from a real run: `livetag
 * demo` (what `npm start` runs: a local broker unless KAFKA_BROKERS is set,
 * the classifier with the default model, generated comments), its console
 * opened in headless Chromium after --wait seconds.
 *
 *   node --import tsx scripts/console-screenshot.ts [--wait 90] [--out docs/console.png]
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { ensureChromium } from './ensure-chromium.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { wait: { type: 'string', default: '90' }, out: { type: 'string', default: 'docs/console.png' }, rate: { type: 'string', default: '30' } } });

const executablePath = await ensureChromium();
const demo = spawn(process.execPath, [path.join(ROOT, 'bin/livetag.js'), 'demo', '--quiet', '--rate', values.rate, '--console-port', '0'], {
  cwd: ROOT,
  env: { ...process.env, LIVETAG_HTTP_PORT: '0' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
demo.stdout.on('data', (b: Buffer) => {
  out += b;
  process.stderr.write(b);
});
const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
try {
  const deadline = Date.now() + 5 * 60_000;
  while (!/^console at (\S+)$/m.test(out)) {
    if (Date.now() > deadline || demo.exitCode !== null) throw new Error(`the demo printed no "console at" line:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const url = /^console at (\S+)$/m.exec(out)![1];
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 }, deviceScaleFactor: 1 });
  await page.goto(url);
  await page.waitForSelector('#status.live');
  await new Promise((r) => setTimeout(r, Number(values.wait) * 1000));
  const file = path.resolve(ROOT, values.out);
  await page.screenshot({ path: file });
  process.stderr.write(`screenshot of ${url} after ${values.wait} s: ${file}\n`);
} finally {
  await browser.close();
  demo.kill('SIGINT');
  await new Promise((r) => demo.once('exit', r));
}
