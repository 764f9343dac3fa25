import { importHf } from '../../model/build/hf-import.ts';
import { parseLabelList } from '../../model/labels.ts';
import { createCommand } from '../command.ts';
import { importHfSpec } from '../specs/import-hf.ts';

export const command = createCommand(importHfSpec, async ({ values, positionals }) => {
  const [dir] = positionals;
  const { manifest, checkpoint } = await importHf(dir, values.out, {
    labels: values.labels ? parseLabelList(values.labels) : undefined,
    maxLength: values['max-length'],
    modelId: values['model-id'],
  });
  const a = manifest.architecture;
  process.stdout.write(
    [
      `wrote ${values.out} (version ${manifest.version})`,
      `  architecture: ${a.numLayers} layers, hidden ${a.hiddenSize}, ${a.numHeads} heads, vocab ${a.vocabSize}, max length ${manifest.maxSequenceLength}`,
      `  labels (${manifest.labels.length}): ${manifest.labels.join(', ')}`,
      `  weights: ${checkpoint.weightsFile}`,
      `  head: ${manifest.head}${checkpoint.initialised.length ? ` (initialised: ${checkpoint.initialised.join(', ')})` : ''}`,
      checkpoint.ignored.length ? `  ignored tensors: ${checkpoint.ignored.join(', ')}` : '  ignored tensors: none',
      ...checkpoint.notes.map((n) => `  note: ${n}`),
    ].join('\n') + '\n',
  );
  return 0;
});
