/**
 * Headless Chromium (Debian's package, see scripts/ensure-chromium.ts) driven
 * by playwright-core, for the console's browser tests.
 */
import type { TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumOrSkip } from '../../../scripts/ensure-chromium.ts';

export interface OpenedPage {
  readonly page: Page;
  /** alert/confirm/prompt dialogs the page opened: any at all means a comment ran as code. */
  readonly dialogs: string[];
  readonly errors: string[];
}

/** A browser for the test, closed after it; undefined (the test skipped, saying why) where there is none. */
export async function useBrowser(t: TestContext): Promise<Browser | undefined> {
  const found = await chromiumOrSkip();
  if (!found.path) {
    t.skip(found.skip);
    return undefined;
  }
  // --no-sandbox: the tests may run as root in a container, where Chromium's sandbox cannot start.
  const browser = await chromium.launch({ executablePath: found.path, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  t.after(() => browser.close());
  return browser;
}

export async function openPage(browser: Browser, url: string): Promise<OpenedPage> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  return { page, dialogs, errors };
}

/** The 1-minute count each tag card shows. */
export function shownCounts(page: Page): Promise<Record<string, number>> {
  return page.$$eval('#tags .tag', (cards) =>
    Object.fromEntries(cards.map((c) => [c.querySelector('.name')?.textContent ?? '', Number(c.querySelector('.m1')?.textContent)])),
  );
}
