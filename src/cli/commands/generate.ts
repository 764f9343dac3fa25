import { parseArgs } from 'node:util';
import { isLivetagError } from '../../common/errors.ts';
import { createCommentGenerator, type GeneratedComment } from '../../demo/comment-generator.ts';
import { DEFAULT_LABELS, parseLabelList } from '../../model/labels.ts';
import { usageError, type Command } from '../main.ts';

const HELP = `usage: livetag generate [--count N] [--seed S] [--labeled | --no-labeled] [--labels a,b,...]
                        [--format jsonl|text]

Writes synthetic Chinese live-commerce comments to stdout, the same ones for the same seed.
  --count N       how many (default 1000)
  --seed S        PRNG seed, a non-negative integer (default 1)
  --labeled       JSONL {"text","labels","room","user"} (default): training or test data
  --no-labeled    JSONL {"text","room","user"}: a demo stream for the service to tag
  --labels        tags to generate, comma-separated (default all ${DEFAULT_LABELS.length}: ${DEFAULT_LABELS.join(',')})
  --format        jsonl (default) or text (one comment a line, nothing else)`;

// Lines are written in blocks so a million comments neither sit in memory nor cost a write each.
const BLOCK = 512;

function nonNegativeInteger(name: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < 0) throw usageError(`--${name} must be a non-negative integer, got "${value}"`);
  return n;
}

function parseOptions(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        count: { type: 'string', default: '1000' },
        seed: { type: 'string', default: '1' },
        labeled: { type: 'boolean' },
        'no-labeled': { type: 'boolean' },
        labels: { type: 'string' },
        format: { type: 'string', default: 'jsonl' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) throw usageError(err.message);
    throw err;
  }
}

export const command: Command = {
  summary: 'generate synthetic live-commerce comments (labeled JSONL, a demo stream, or text)',
  async run(argv) {
    const { values, positionals } = parseOptions(argv);
    if (values.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0]}"\n\n${HELP}`);
    if (values.labeled && values['no-labeled']) throw usageError('--labeled and --no-labeled contradict each other');
    if (values.format !== 'jsonl' && values.format !== 'text') throw usageError('--format must be jsonl or text');
    const count = nonNegativeInteger('count', values.count);
    const seed = nonNegativeInteger('seed', values.seed);
    const labels = values.labels === undefined ? undefined : parseLabelList(values.labels);
    const labeled = !values['no-labeled'];
    let generator;
    try {
      generator = createCommentGenerator({ seed, labels });
    } catch (err) {
      if (isLivetagError(err, 'LT_CONFIG_INVALID')) throw usageError(`--labels: ${err.message}`);
      throw err;
    }

    const line =
      values.format === 'text'
        ? (c: GeneratedComment) => c.text
        : labeled
          ? (c: GeneratedComment) => JSON.stringify({ text: c.text, labels: c.labels, room: c.room, user: c.user })
          : (c: GeneratedComment) => JSON.stringify({ text: c.text, room: c.room, user: c.user });

    // A closed pipe (`livetag generate | head`) is the reader saying it has enough, not a failure.
    let closed = false;
    let failure: Error | undefined;
    const onError = (err: NodeJS.ErrnoException): void => {
      closed = true;
      if (err.code !== 'EPIPE') failure = err;
    };
    const writable = (): Promise<void> =>
      new Promise((resolve) => {
        const done = (): void => {
          for (const event of ['drain', 'close', 'error']) process.stdout.off(event, done);
          resolve();
        };
        for (const event of ['drain', 'close', 'error']) process.stdout.on(event, done);
      });
    process.stdout.on('error', onError);
    try {
      for (let done = 0; done < count && !closed; ) {
        const n = Math.min(BLOCK, count - done);
        const block = generator.take(n).map(line).join('\n') + '\n';
        done += n;
        if (!process.stdout.write(block) && !closed) await writable();
      }
    } finally {
      process.stdout.off('error', onError);
    }
    if (failure) throw failure;
    return 0;
  },
};
