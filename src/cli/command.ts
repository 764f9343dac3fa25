/**
 * What a command module exports, and the glue that turns a declaration plus a
 * run function into one. Lives apart from main.ts so commands never import the
 * entry point that imports them.
 */
import { statSync } from 'node:fs';
import { LivetagError, isLivetagError } from '../common/errors.ts';
import { renderHelp, renderUsage } from './help.ts';
import { parseCommandArgs, type CommandSpec, type OptionSpecs, type OptionValues } from './options.ts';

/** A subcommand: parses its own argv and returns the process exit status. */
export interface Command {
  readonly spec: CommandSpec;
  readonly run: (argv: string[]) => Promise<number>;
}

export interface CommandInput<S extends OptionSpecs> {
  readonly values: OptionValues<S>;
  readonly positionals: string[];
  /** As given, for records of how a result was made (train's report). */
  readonly argv: readonly string[];
}

export function usageError(message: string): LivetagError {
  return new LivetagError('LT_USAGE', message);
}

/** An input file an option names, checked before any work starts: a usage error, not a raw ENOENT later. */
export function requireFile(path: string, what: string): void {
  if (!statSync(path, { throwIfNoEntry: false })?.isFile()) throw usageError(`${what ? `${what} ` : ''}${path}: no such file`);
}

export interface CommandExtras {
  /** Help text computed from modules the declaration must not import (kept light for `livetag --help`). */
  readonly helpFooter?: () => string;
}

export function createCommand<S extends OptionSpecs>(spec: CommandSpec<S>, run: (input: CommandInput<S>) => Promise<number>, extras: CommandExtras = {}): Command {
  return {
    spec,
    async run(argv) {
      let parsed;
      try {
        parsed = parseCommandArgs(spec, argv);
      } catch (err) {
        if (!isLivetagError(err, 'LT_USAGE')) throw err;
        throw usageError(`${err.message}\n\nusage: ${renderUsage(spec)}\n(\`livetag ${spec.name} --help\` lists every option)`);
      }
      if (parsed.help) {
        process.stdout.write(renderHelp(spec, extras.helpFooter?.()) + '\n');
        return 0;
      }
      try {
        return await run({ values: parsed.values, positionals: parsed.positionals, argv });
      } catch (err) {
        const exit = isLivetagError(err) ? spec.exitCodes?.[err.code] : undefined;
        if (!exit || !isLivetagError(err)) throw err;
        process.stderr.write(`livetag ${spec.name}: ${err.code}: ${err.message}\n`);
        return exit.status;
      }
    },
  };
}
