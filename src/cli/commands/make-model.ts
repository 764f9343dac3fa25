import { parseLabelList } from '../../model/labels.ts';
import { writeRandomBundle } from '../../model/build/random-bundle.ts';
import { createCommand, requireFile } from '../command.ts';
import { makeModelSpec } from '../specs/make-model.ts';

export const command = createCommand(makeModelSpec, async ({ values }) => {
  if (values.tokenizer !== undefined) requireFile(values.tokenizer, '--tokenizer');
  const manifest = await writeRandomBundle(values.out, {
    shape: values.shape,
    tokenizerPath: values.tokenizer,
    labels: values.labels ? parseLabelList(values.labels) : undefined,
    seed: values.seed,
    maxLength: values['max-length'],
  });
  process.stdout.write(`wrote ${values.out} (${manifest.modelId} ${manifest.version}, ${manifest.files['model.onnx'].bytes} bytes)\n`);
  return 0;
});
