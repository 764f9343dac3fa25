/**
 * Regenerates docs/errors.md from ERROR_CODES, so the page cannot drift from
 * the codes the code raises.
 *
 *   node --import tsx scripts/update-error-docs.ts [--check]
 */
import { fileURLToPath } from 'node:url';
import { renderErrorDocs } from '../src/common/errors-doc.ts';
import { updateGeneratedFile } from './generated-file.ts';

const DOC = fileURLToPath(new URL('../docs/errors.md', import.meta.url));

updateGeneratedFile(DOC, () => renderErrorDocs(), fileURLToPath(import.meta.url));
