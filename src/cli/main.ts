import { LivetagError, isLivetagError } from '../common/errors.ts';

/** A subcommand: parses its own argv and returns the process exit code. */
export type Command = {
  readonly summary: string;
  readonly run: (argv: string[]) => Promise<number>;
};

// Lazy imports keep `livetag --help` fast and let each command load only what it uses.
const COMMANDS: Record<string, () => Promise<Command>> = {
  classify: async () => (await import('./commands/classify.ts')).command,
  'import-hf': async () => (await import('./commands/import-hf.ts')).command,
  'make-model': async () => (await import('./commands/make-model.ts')).command,
  optimize: async () => (await import('./commands/optimize.ts')).command,
  kafka: async () => (await import('./commands/kafka.ts')).command,
  train: async () => (await import('./commands/train.ts')).command,
  eval: async () => (await import('./commands/eval.ts')).command,
  serve: async () => (await import('./commands/serve.ts')).command,
  models: async () => (await import('./commands/models.ts')).command,
  generate: async () => (await import('./commands/generate.ts')).command,
  demo: async () => (await import('./commands/demo.ts')).command,
};

function usage(): string {
  return [
    'usage: livetag <command> [options]',
    '',
    'commands:',
    ...Object.keys(COMMANDS).map((c) => `  ${c}`),
    '',
    'Run `livetag <command> --help` for a command\'s options.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`livetag: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  try {
    const command = await load();
    return await command.run(rest);
  } catch (err) {
    if (isLivetagError(err)) {
      process.stderr.write(`livetag ${name}: ${err.code}: ${err.message}\n`);
      return err.code === 'LT_USAGE' ? 2 : 1;
    }
    throw err;
  }
}

export function usageError(message: string): LivetagError {
  return new LivetagError('LT_USAGE', message);
}
