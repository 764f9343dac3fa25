import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createClassifier, type Classification } from '../../model/runtime/classifier.ts';
import { resolveModelRef } from '../../model/registry/model-ref.ts';
import { createCommand, requireFile } from '../command.ts';
import { parseLine, type InputLine } from '../input-line.ts';
import { classifySpec } from '../specs/classify.ts';

function tableRow(text: string, c: Classification): string {
  const tags = c.tags.map((t) => `${t.label}(${t.score.toFixed(2)})`).join(' ') || '-';
  const shown = text.length > 40 ? `${text.slice(0, 39)}…` : text;
  return `${tags.padEnd(40)}  ${shown}`;
}

export const command = createCommand(classifySpec, async ({ values, positionals }) => {
  const batchSize = values['batch-size'];
  const file = positionals[0] && positionals[0] !== '-' ? positionals[0] : undefined;
  // Before the model loads, and as a usage error rather than a raw ENOENT from the stream.
  if (file !== undefined) requireFile(file, '');
  const classifier = await createClassifier({
    bundle: await resolveModelRef(values.model),
    device: values.device,
    deviceId: values['device-id'],
    threads: values.threads,
    variant: values.variant,
    // A one-shot CLI has no event loop to protect; skip the worker's start-up cost.
    worker: false,
    warn: (m) => process.stderr.write(m + '\n'),
  });
  const source = file !== undefined ? createReadStream(file) : process.stdin;
  const lines = createInterface({ input: source, crlfDelay: Infinity });
  const table = values.format === 'table';
  const out = (s: string): void => void process.stdout.write(s + '\n');
  let failed = 0;

  const flush = async (items: InputLine[]): Promise<void> => {
    const texts = items.flatMap((i) => ('text' in i ? [i.text] : []));
    const results = texts.length ? await classifier.classify(texts, { allScores: values['all-scores'] }) : [];
    let r = 0;
    for (const item of items) {
      if ('error' in item) {
        failed++;
        out(table ? `${'ERROR ' + item.error.code}`.padEnd(40) + `  line ${item.line}: ${item.error.reason}` : JSON.stringify(item));
        continue;
      }
      const c = results[r++];
      out(table ? tableRow(item.text, c) : JSON.stringify({ text: item.text, ...c }));
    }
  };

  try {
    let pending: InputLine[] = [];
    let n = 0;
    for await (const raw of lines) {
      pending.push(parseLine(raw, ++n));
      if (pending.length >= batchSize) {
        await flush(pending);
        pending = [];
      }
    }
    if (pending.length) await flush(pending);
  } finally {
    await classifier.stop();
  }
  if (failed > 0) process.stderr.write(`livetag classify: ${failed} line(s) could not be classified (error records written)\n`);
  return 0;
});
