/**
 * `--backend` to a training engine: onnxruntime (the default; 'auto' is its
 * alias) or TensorFlow.js on one of its backends. Only the TensorFlow.js
 * choices initialise a tfjs backend, so an onnxruntime run never loads wasm
 * or libtensorflow.
 */
import { LivetagError } from '../common/errors.ts';
import type { EngineOptions, TrainingEngine } from './engine.ts';
import { createOrtEngine } from './ort-engine.ts';
import { describeBackend, initTfBackend } from './tf-backend.ts';
import { createTfEngine } from './tf-engine.ts';

export const ENGINE_CHOICES = ['onnxruntime', 'auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'] as const;
export type EngineChoice = (typeof ENGINE_CHOICES)[number];
export type DeviceChoice = NonNullable<EngineOptions['device']>;

const TF_BACKENDS = new Set<string>(['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu']);

const isTfChoice = (choice: EngineChoice): choice is Exclude<EngineChoice, 'onnxruntime' | 'auto'> => TF_BACKENDS.has(choice);

/**
 * Rejects a choice that is no engine, and a --device for TensorFlow.js (which
 * picks its device with the backend): checked before the job reads any data.
 */
export function checkEngineChoice(choice: string, device: DeviceChoice = 'auto'): EngineChoice {
  if (!(ENGINE_CHOICES as readonly string[]).includes(choice)) {
    throw new LivetagError('LT_CONFIG_INVALID', `unknown backend ${JSON.stringify(choice)}; one of ${ENGINE_CHOICES.join(', ')}`);
  }
  const engineChoice = choice as EngineChoice;
  if (isTfChoice(engineChoice) && device !== 'auto') {
    throw new LivetagError('LT_CONFIG_INVALID', `--device ${device} is for the onnxruntime engine; --backend ${choice} is TensorFlow.js`);
  }
  return engineChoice;
}

/** What the manifest records as the backend: 'onnxruntime', or the tfjs backend's name as before ('wasm', 'tensorflow', 'cpu'). */
export function backendNameOf(choice: EngineChoice): string {
  if (!isTfChoice(choice)) return 'onnxruntime';
  return choice === 'tensorflow-gpu' ? 'tensorflow' : choice;
}

export async function createEngine(choice: EngineChoice, options: EngineOptions): Promise<TrainingEngine> {
  const checked = checkEngineChoice(choice, options.device);
  if (!isTfChoice(checked)) {
    const engine = await createOrtEngine(options);
    options.log?.(engine.description);
    return engine;
  }
  const backend = await initTfBackend(checked);
  options.log?.(describeBackend(backend));
  return createTfEngine({ ...options, backend });
}
