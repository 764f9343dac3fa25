import { exportHf } from '../../model/build/hf-export.ts';
import { resolveModelRef } from '../../model/registry/model-ref.ts';
import { createCommand } from '../command.ts';
import { exportHfSpec } from '../specs/export-hf.ts';

export const command = createCommand(exportHfSpec, async ({ values, positionals }) => {
  const bundle = await resolveModelRef(positionals[0]);
  const result = await exportHf(bundle, values.out);
  process.stdout.write(
    [
      `wrote ${values.out}: ${result.files.join(', ')}`,
      `  parity: max |Δlogit| ${result.maxAbsDiff.toExponential(2)} between the bundle's graph and BERT rebuilt from the exported weights`,
      ...result.notes.map((n) => `  note: ${n}`),
    ].join('\n') + '\n',
  );
  return 0;
});
