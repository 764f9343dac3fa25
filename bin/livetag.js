#!/usr/bin/env node
// The CLI runs the TypeScript sources directly through tsx, so there is no build
// step between a clone and a working command.
import { register } from 'tsx/esm/api';

register();
// A reader that hangs up (`livetag eval … | head`) has what it wanted: end
// quietly, as Unix tools do, not with an unhandled EPIPE and a stack trace.
process.stdout.on('error', (err) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(process.exitCode ?? 0);
});
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
