import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { parseInputText } from '../../consumer/input-message.ts';
import { createClassifier, type Classification } from '../../model/classifier.ts';
import type { Device } from '../../model/onnx-session.ts';
import { usageError, type Command } from '../main.ts';

const HELP = `usage: livetag classify --model <bundle> [--all-scores] [--batch-size N] [--format jsonl|table]
                        [--device cpu|cuda] [--device-id N] [--threads N] [--variant auto|base|NAME] [file|-]

Reads plain text lines or JSONL with a "text" field (file or stdin) and writes one JSONL
record per input line, in input order: {"text", "tags": [{"label","score"}], "scores"?}.
Empty or invalid lines give {"line", "error": {"code","reason"}} instead of stopping.
--variant picks a graph of the bundle (see livetag optimize); auto serves the manifest's choice
for the provider that loads.`;

type Item = { line: number; text: string } | { line: number; error: { code: string; reason: string } };

export function parseLine(raw: string, line: number): Item {
  const trimmed = raw.trim();
  if (trimmed.length === 0) return { line, error: { code: 'LT_MSG_EMPTY_TEXT', reason: 'empty line' } };
  if (!trimmed.startsWith('{')) return { line, text: raw };
  const parsed = parseInputText(trimmed);
  return parsed.ok ? { line, text: parsed.message.text } : { line, error: { code: parsed.code, reason: parsed.reason } };
}

function tableRow(text: string, c: Classification): string {
  const tags = c.tags.map((t) => `${t.label}(${t.score.toFixed(2)})`).join(' ') || '-';
  const shown = text.length > 40 ? `${text.slice(0, 39)}…` : text;
  return `${tags.padEnd(40)}  ${shown}`;
}

export const command: Command = {
  summary: 'classify text lines or JSONL with a model bundle',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        'all-scores': { type: 'boolean', default: false },
        'batch-size': { type: 'string', default: '32' },
        format: { type: 'string', default: 'jsonl' },
        device: { type: 'string', default: 'cpu' },
        'device-id': { type: 'string', default: '0' },
        threads: { type: 'string', default: '0' },
        variant: { type: 'string', default: 'auto' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if (!values.model) throw usageError(`--model is required\n\n${HELP}`);
    const batchSize = Number(values['batch-size']);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw usageError('--batch-size must be a positive integer');
    if (values.format !== 'jsonl' && values.format !== 'table') throw usageError('--format must be jsonl or table');
    if (values.device !== 'cpu' && values.device !== 'cuda') throw usageError('--device must be cpu or cuda');

    const classifier = await createClassifier({
      bundle: values.model,
      device: values.device as Device,
      deviceId: Number(values['device-id']),
      threads: Number(values.threads),
      variant: values.variant,
      // A one-shot CLI has no event loop to protect; skip the worker's start-up cost.
      worker: false,
      warn: (m) => process.stderr.write(m + '\n'),
    });
    const source = positionals[0] && positionals[0] !== '-' ? createReadStream(positionals[0]) : process.stdin;
    const lines = createInterface({ input: source, crlfDelay: Infinity });
    const table = values.format === 'table';
    const out = (s: string): void => void process.stdout.write(s + '\n');
    let failed = 0;

    const flush = async (items: Item[]): Promise<void> => {
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
      let pending: Item[] = [];
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
  },
};
