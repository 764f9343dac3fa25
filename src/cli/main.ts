import { readFileSync } from 'node:fs';
import { isLivetagError } from '../common/errors.ts';
import { COMMANDS, findCommand } from './command-table.ts';
import { renderTopLevelHelp } from './help.ts';

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function topLevelHelp(): string {
  return renderTopLevelHelp(COMMANDS.map((c) => c.spec));
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(topLevelHelp() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(version() + '\n');
    return 0;
  }
  const entry = findCommand(name);
  if (!entry) {
    process.stderr.write(`livetag: unknown command "${name}"\n\n${topLevelHelp()}\n`);
    return 2;
  }
  try {
    const command = await entry.load();
    return await command.run(rest);
  } catch (err) {
    if (isLivetagError(err)) {
      process.stderr.write(`livetag ${name}: ${err.code}: ${err.message}\n`);
      return err.code === 'LT_USAGE' ? 2 : 1;
    }
    throw err;
  }
}
