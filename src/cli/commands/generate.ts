import { isLivetagError } from '../../common/errors.ts';
import { createCommentGenerator, type GeneratedComment } from '../../demo/comment-generator.ts';
import { parseLabelList } from '../../model/labels.ts';
import { createCommand, usageError } from '../command.ts';
import { generateSpec } from '../specs/generate.ts';

// Lines are written in blocks so a million comments neither sit in memory nor cost a write each.
const BLOCK = 512;

export const command = createCommand(generateSpec, async ({ values }) => {
  if (values.labeled && values['no-labeled']) throw usageError('--labeled and --no-labeled contradict each other');
  const { count, seed } = values;
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
});
