/** What `livetag pretrain` is asked to do: read by the job and written into its report. */
import type { CorpusTopic } from './corpus.ts';
import type { ArchOverrides } from '../steps/initialise.ts';

export interface PretrainOptions {
  readonly data: readonly string[];
  readonly topic?: CorpusTopic;
  readonly out: string;
  readonly init?: string;
  readonly epochs: number;
  /**
   * Optimizer steps in all, at most: the schedule decays to whichever of this
   * and the epochs' steps comes first, so one setting suits a small corpus
   * (many epochs) and a large topic (one epoch, cut short) alike.
   */
  readonly maxSteps?: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly maskProb: number;
  readonly spanMasking: boolean;
  readonly maxLength?: number;
  readonly arch?: ArchOverrides;
  readonly seed: number;
  readonly dropout: number;
  readonly weightDecay: number;
  readonly warmupRatio: number;
  readonly resume: boolean;
  readonly threads?: number;
  readonly device?: 'auto' | 'cpu' | 'cuda';
  readonly modelId?: string;
  readonly quiet?: boolean;
  /** Called after each epoch's checkpoint (tests stop a run here, as a kill would). */
  readonly afterEpoch?: (epoch: number) => void;
}
