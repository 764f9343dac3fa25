/**
 * Regenerates docs/errors.md from ERROR_CODES, so the page cannot drift from
 * the codes the code raises.
 *
 *   node --import tsx scripts/update-error-docs.ts [--check]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderErrorDocs } from '../src/common/errors-doc.ts';

const DOC = fileURLToPath(new URL('../docs/errors.md', import.meta.url));

const next = renderErrorDocs();
const current = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '';
if (process.argv.includes('--check')) {
  if (next !== current) {
    console.error('docs/errors.md is out of date: run node --import tsx scripts/update-error-docs.ts');
    process.exit(1);
  }
} else if (next !== current) writeFileSync(DOC, next);
