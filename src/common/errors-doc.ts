import { ERROR_CODES, type ErrorSpec } from './errors.ts';

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * docs/errors.md, rendered from ERROR_CODES: the table is the source of truth,
 * so the page is regenerated (scripts/update-error-docs.ts) rather than edited,
 * and a unit test fails when the two drift apart.
 */
export function renderErrorDocs(codes: Readonly<Record<string, ErrorSpec>> = ERROR_CODES): string {
  const rows = Object.entries(codes).map(
    ([code, spec]) => `| \`${code}\` | ${spec.retryable ? 'yes' : 'no'} | ${cell(spec.description)} | ${cell(spec.hint ?? '')} |`,
  );
  return [
    '# Error codes',
    '',
    '<!-- Generated from ERROR_CODES in src/common/errors.ts by `node --import tsx scripts/update-error-docs.ts`; do not edit by hand. -->',
    '',
    'Every error livetag raises on purpose is a `LivetagError` with a stable `code` and a `retryable` flag.',
    'Codes appear in logs, in the `code` label of the error metrics and in dead-letter headers;',
    '`retryable` says whether repeating the same operation can succeed, so callers decide policy without parsing messages.',
    'Any other thrown value is reported as `LT_UNEXPECTED`, which always means a bug.',
    '',
    '| code | retryable | description | where it comes from, what to do |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
