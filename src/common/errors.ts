/**
 * Every error livetag raises on purpose carries a stable code (for metrics,
 * dead-letter headers and alerting) and whether retrying the same operation can
 * help, so callers decide policy without parsing messages. Modelled on
 * fastify's lib/errors.js: codes are declared once, in one table, and
 * docs/errors.md is generated from it (scripts/update-error-docs.ts).
 */
export interface ErrorSpec {
  readonly retryable: boolean;
  /** What went wrong, in a few words. */
  readonly description: string;
  /** Where the error comes from and what an operator or caller should do about it. */
  readonly hint?: string;
}

export const ERROR_CODES = {
  LT_CONFIG_INVALID: {
    retryable: false,
    description: 'configuration failed validation',
    hint: 'Startup settings (LIVETAG_* variables, Kafka connection options) or options passed to a factory (classifier variant, generator labels). The message lists every problem; fix them and restart.',
  },
  LT_USAGE: {
    retryable: false,
    description: 'command line usage error',
    hint: 'Only the CLI (src/cli) raises it, for bad arguments; the process exits with status 2. Run `livetag <command> --help`.',
  },
  LT_BUNDLE_MISSING_FILE: {
    retryable: false,
    description: 'a bundle file is missing',
    hint: 'Loading a model bundle found a file missing or unreadable, or the registry has no current model. Check the bundle path or volume mount; rebuild the bundle, or promote a version.',
  },
  LT_BUNDLE_MANIFEST_INVALID: {
    retryable: false,
    description: 'manifest.json failed validation',
    hint: "A bundle's manifest.json is not JSON or fails the schema. Rebuild the bundle (make-model, import-hf, train) rather than editing the manifest.",
  },
  LT_BUNDLE_HASH_MISMATCH: {
    retryable: false,
    description: 'a bundle file does not match its sha256',
    hint: 'A bundle file changed after it was written: a partial copy or corruption. Copy or publish the bundle again.',
  },
  LT_BUNDLE_INCONSISTENT: {
    retryable: false,
    description: 'manifest disagrees with the model graph',
    hint: 'The manifest and model.onnx describe different models (labels, inputs, architecture): the bundle was assembled from mismatched files. Rebuild it.',
  },
  LT_BUNDLE_ENCODER_ONLY: {
    retryable: false,
    description: 'the bundle is a pretrained encoder without a classifier',
    hint: 'A bundle written by `livetag pretrain` (manifest head "encoder") was given to something that classifies (serve, classify, eval). Fine-tune it first: `livetag train --init <it> --data labeled.jsonl`, then serve the trained bundle.',
  },
  LT_ONNX_INVALID: {
    retryable: false,
    description: 'ONNX file cannot be parsed or lacks expected tensors',
    hint: 'Reading weights out of a graph, or onnxruntime loading it, failed. Only graphs livetag writes are supported; rebuild the bundle.',
  },
  LT_WEIGHTS_INVALID: {
    retryable: false,
    description: 'weight map does not fit the architecture',
    hint: 'A tensor is missing or has the wrong shape for the BERT config, or graph build options conflict. Check that the checkpoint and its config.json belong together.',
  },
  LT_HF_IMPORT: {
    retryable: false,
    description: 'Hugging Face checkpoint cannot be imported',
    hint: '`livetag import-hf` (and training from a checkpoint) cannot read the directory, or a file lies about its sizes, offsets or shapes; the message names the file and tensor or field. safetensors, pytorch_model.bin (zip or legacy; read without executing the pickle) and sharded indexes of either are supported.',
  },
  LT_HF_EXPORT: {
    retryable: false,
    description: 'bundle cannot be exported to Hugging Face',
    hint: '`livetag export-hf` refuses a bundle that BertForSequenceClassification cannot express (an n-gram branch in the head, a manifest field it does not know, a graph that is not plain BERT) or an --out directory that is not empty; the message gives the reason, and nothing was written.',
  },
  LT_TOKENIZER: {
    retryable: false,
    description: 'tokenizer cannot be built or loaded',
    hint: "tokenizer.json does not load or lacks a special token. Rebuild the bundle, or fix the checkpoint's tokenizer files before importing.",
  },
  LT_INFERENCE: {
    retryable: true,
    description: 'model inference failed',
    hint: 'onnxruntime failed on a batch, or returned the wrong number of outputs. The consumer dead-letters the messages of that batch with this code so the partition moves on; once fixed, `livetag dlq replay` sends them through again. If it persists, check memory and the execution provider.',
  },
  LT_WORKER_EXITED: {
    retryable: true,
    description: 'inference worker exited',
    hint: 'The inference worker thread crashed or could not start (often out of memory). Pending batches fail and are retried; check memory limits if it repeats.',
  },
  LT_STOPPED: {
    retryable: false,
    description: 'component is stopped',
    hint: 'A call reached a classifier, session, batcher, label source or local broker after it was stopped, or a Kafka client (a producer, a consumer, a service) was stopped while it was still starting. Expected during shutdown; a bug otherwise.',
  },
  LT_MSG_BAD_JSON: {
    retryable: false,
    description: 'message is not valid JSON',
    hint: 'An input record is empty or not JSON. It is dead-lettered with this code; fix the producer.',
  },
  LT_MSG_BAD_UTF8: {
    retryable: false,
    description: 'message is not valid UTF-8',
    hint: 'An input record has bytes that are not UTF-8. It is dead-lettered with this code; fix the producer.',
  },
  LT_MSG_INVALID: {
    retryable: false,
    description: 'message failed schema validation',
    hint: 'An input record lacks a field or has one of the wrong type; the message names the path. It is dead-lettered; fix the producer.',
  },
  LT_MSG_EMPTY_TEXT: {
    retryable: false,
    description: 'message text is empty',
    hint: 'An input record (or a `livetag classify` line) has blank text. It is dead-lettered (or reported) and skipped.',
  },
  LT_MSG_TOO_LARGE: {
    retryable: false,
    description: 'message is over the configured size',
    hint: 'An input record is over LIVETAG_MAX_MESSAGE_BYTES. It is dead-lettered; raise the limit only if such comments are real.',
  },
  LT_OUTPUT_TOO_LARGE: {
    retryable: false,
    description: 'tags record is over the configured output size',
    hint: 'The tags record for an input (which carries the input\'s fields) is over LIVETAG_MAX_OUTPUT_BYTES, so the output topic would refuse it and hold up the partition. The input is dead-lettered instead; keep LIVETAG_MAX_MESSAGE_BYTES well under LIVETAG_MAX_OUTPUT_BYTES, or narrow LIVETAG_PASSTHROUGH_FIELDS.',
  },
  LT_KAFKA: {
    retryable: true,
    description: 'Kafka operation failed',
    hint: 'A Kafka client call (connect, produce, commit, fetch) failed or timed out; retried with backoff unless the client marks it final. Check the brokers, TLS/SASL settings and broker health.',
  },
  LT_KAFKA_AUTH: {
    retryable: false,
    description: 'Kafka authentication failed',
    hint: 'The brokers refused the SASL login or TLS handshake, or the OAuth token endpoint refused the client credentials. Check LIVETAG_KAFKA_SASL_* / LIVETAG_KAFKA_OAUTH_* and the mounted secret files, LIVETAG_KAFKA_TLS_CA_FILE, and for brokers that require a client certificate (mTLS) LIVETAG_KAFKA_TLS_CERT_FILE / _KEY_FILE. Not retried: the same credentials will be refused again.',
  },
  LT_KAFKA_REBALANCE: {
    retryable: true,
    description: 'the consumer group is rebalancing',
    hint: 'A heartbeat learned that the group is rebalancing (an instance joined, left or was restarted). The batch stops after the work already committed, the member rejoins, and the records after the committed offset are read again by whichever member owns the partition. Normal operation: logged at info, not counted as an error.',
  },
  LT_KAFKA_DENIED: {
    retryable: false,
    description: 'Kafka authorization failed (ACLs)',
    hint: "The brokers authenticated the principal but its ACLs do not allow the operation on the topic, group or transactional id named in the message. Grant the ACL (see docs/deploy.md) or fix the topic/group settings.",
  },
  LT_BROKER: {
    retryable: false,
    description: 'local Kafka broker could not be run',
    hint: 'The development broker (src/dev: `livetag kafka`, `livetag demo`, tests) could not resolve its jars or start; the message includes its log. It needs Java 17+ and Maven 3.6+ and free ports, or set KAFKA_BROKERS to use an existing cluster.',
  },
  LT_DATA: {
    retryable: false,
    description: 'training or evaluation data is unusable',
    hint: 'Training, evaluation or `livetag optimize` input is missing, empty or malformed; the message names the file. Fix or regenerate the data.',
  },
  LT_TRAINING: {
    retryable: false,
    description: 'training failed',
    hint: 'The training job stopped: a diverging loss, an unavailable tfjs backend or an impossible layer setup. The message says which; adjust the recipe (e.g. a lower --lr).',
  },
  LT_PARITY: {
    retryable: false,
    description: 'tfjs and onnxruntime disagree on the exported model',
    hint: 'After training, the exported ONNX graph does not reproduce the trained logits, so the bundle must not be served. A bug: report it with the run directory.',
  },
  LT_CHECKPOINT: {
    retryable: false,
    description: 'a training checkpoint cannot be read or written',
    hint: 'A checkpoint in the run directory is unreadable or could not be saved (disk full, truncated file). Free space, or resume from an earlier checkpoint or a fresh run.',
  },
  LT_REGISTRY_INVALID: {
    retryable: false,
    description: "the model registry's registry.json cannot be read",
    hint: 'registry.json on the registry volume is not JSON or fails validation (edited by hand or truncated). Restore it from a backup, or recreate it by promoting a version from versions/.',
  },
  LT_REGISTRY_BUSY: {
    retryable: true,
    description: 'another process held the model registry lock for a minute',
    hint: 'Promote, rollback and prune change the registry one at a time under `.registry.lock` in its root. Another `livetag models` command or retrain job was still changing it; run again. A lock left by a killed process is broken after 10 minutes.',
  },
  LT_REGISTRY_CONFLICT: {
    retryable: false,
    description: 'a bundle reuses the version id of another published bundle',
    hint: 'Registry versions are immutable: the id under versions/ already holds other content (thresholds, weights or measurements). Publish other content under a new version: a new `train` or `import-hf` run stamps one, while `optimize` names its output <source version>-opt, so optimize a newly trained bundle. If the old version was never promoted, remove versions/<id> first.',
  },
  LT_REGISTRY_NO_ROLLBACK: {
    retryable: false,
    description: 'there is no earlier promoted version to roll back to',
    hint: '`livetag models rollback` needs at least two promotions in the history. Promote the wanted version by id instead.',
  },
  LT_INTERNAL: {
    retryable: false,
    description: 'an internal invariant does not hold',
    hint: 'A bug in livetag (e.g. inconsistent built-in generator templates), not a problem with input or environment. Report it with the message.',
  },
} as const satisfies Readonly<Record<string, ErrorSpec>>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class LivetagError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LivetagError';
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
  }
}

export function isLivetagError(err: unknown, code?: ErrorCode): err is LivetagError {
  return err instanceof LivetagError && (code === undefined || err.code === code);
}

/** A short, text-free description for logs and metrics of any thrown value. */
export function errorCode(err: unknown): string {
  if (err instanceof LivetagError) return err.code;
  return 'LT_UNEXPECTED';
}
