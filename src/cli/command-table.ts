/**
 * Every command: its declaration (light, loaded for `livetag --help` and the
 * README) and its implementation, imported only when the command runs so
 * each command loads only what it uses. Order is the order of help and README.
 */
import type { Command } from './command.ts';
import type { CommandSpec } from './options.ts';
import { classifySpec } from './specs/classify.ts';
import { consoleSpec } from './specs/console.ts';
import { demoSpec } from './specs/demo.ts';
import { dlqSpec } from './specs/dlq.ts';
import { evalSpec } from './specs/eval.ts';
import { generateSpec } from './specs/generate.ts';
import { exportHfSpec } from './specs/export-hf.ts';
import { importHfSpec } from './specs/import-hf.ts';
import { kafkaSpec } from './specs/kafka.ts';
import { makeModelSpec } from './specs/make-model.ts';
import { modelsSpec } from './specs/models.ts';
import { optimizeSpec } from './specs/optimize.ts';
import { pretrainSpec } from './specs/pretrain.ts';
import { serveSpec } from './specs/serve.ts';
import { trainSpec } from './specs/train.ts';

export interface CommandEntry {
  readonly spec: CommandSpec;
  readonly load: () => Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { spec: demoSpec, load: async () => (await import('./commands/demo.ts')).command },
  { spec: serveSpec, load: async () => (await import('./commands/serve.ts')).command },
  { spec: consoleSpec, load: async () => (await import('./commands/console.ts')).command },
  { spec: classifySpec, load: async () => (await import('./commands/classify.ts')).command },
  { spec: optimizeSpec, load: async () => (await import('./commands/optimize.ts')).command },
  { spec: importHfSpec, load: async () => (await import('./commands/import-hf.ts')).command },
  { spec: exportHfSpec, load: async () => (await import('./commands/export-hf.ts')).command },
  { spec: pretrainSpec, load: async () => (await import('./commands/pretrain.ts')).command },
  { spec: trainSpec, load: async () => (await import('./commands/train.ts')).command },
  { spec: evalSpec, load: async () => (await import('./commands/eval.ts')).command },
  { spec: modelsSpec, load: async () => (await import('./commands/models.ts')).command },
  { spec: makeModelSpec, load: async () => (await import('./commands/make-model.ts')).command },
  { spec: generateSpec, load: async () => (await import('./commands/generate.ts')).command },
  { spec: kafkaSpec, load: async () => (await import('./commands/kafka.ts')).command },
  { spec: dlqSpec, load: async () => (await import('./commands/dlq.ts')).command },
];

export function findCommand(name: string): CommandEntry | undefined {
  return COMMANDS.find((c) => c.spec.name === name);
}
