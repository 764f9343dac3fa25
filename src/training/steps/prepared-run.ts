import type { LabeledRow } from '../data.ts';
import type { EncodedRows } from './encode.ts';
import type { InitialModel } from './initialise.ts';
import type { SplitPlan } from './split.ts';

/** What the steps from training on read: the rows and their split, the starting model, the encoded inputs. */
export interface PreparedRun {
  readonly rows: readonly LabeledRow[];
  readonly labels: readonly string[];
  readonly plan: SplitPlan;
  readonly initial: InitialModel;
  readonly encoded: EncodedRows;
}
