/**
 * Every error livetag raises on purpose carries a stable code (for metrics,
 * dead-letter headers and alerting) and whether retrying the same operation can
 * help, so callers decide policy without parsing messages. Modelled on
 * fastify's lib/errors.js: codes are declared once, in one table.
 */
export const ERROR_CODES = {
  LT_CONFIG_INVALID: { retryable: false, description: 'configuration failed validation' },
  LT_USAGE: { retryable: false, description: 'command line usage error' },
  LT_BUNDLE_MISSING_FILE: { retryable: false, description: 'a bundle file is missing' },
  LT_BUNDLE_MANIFEST_INVALID: { retryable: false, description: 'manifest.json failed validation' },
  LT_BUNDLE_HASH_MISMATCH: { retryable: false, description: 'a bundle file does not match its sha256' },
  LT_BUNDLE_INCONSISTENT: { retryable: false, description: 'manifest disagrees with the model graph' },
  LT_ONNX_INVALID: { retryable: false, description: 'ONNX file cannot be parsed or lacks expected tensors' },
  LT_WEIGHTS_INVALID: { retryable: false, description: 'weight map does not fit the architecture' },
  LT_HF_IMPORT: { retryable: false, description: 'Hugging Face checkpoint cannot be imported' },
  LT_TOKENIZER: { retryable: false, description: 'tokenizer cannot be built or loaded' },
  LT_INFERENCE: { retryable: true, description: 'model inference failed' },
  LT_WORKER_EXITED: { retryable: true, description: 'inference worker exited' },
  LT_STOPPED: { retryable: false, description: 'component is stopped' },
  LT_MSG_BAD_JSON: { retryable: false, description: 'message is not valid JSON' },
  LT_MSG_BAD_UTF8: { retryable: false, description: 'message is not valid UTF-8' },
  LT_MSG_INVALID: { retryable: false, description: 'message failed schema validation' },
  LT_MSG_EMPTY_TEXT: { retryable: false, description: 'message text is empty' },
  LT_MSG_TOO_LARGE: { retryable: false, description: 'message is over the configured size' },
  LT_KAFKA: { retryable: true, description: 'Kafka operation failed' },
  LT_BROKER: { retryable: false, description: 'local Kafka broker could not be run' },
  LT_DATA: { retryable: false, description: 'training or evaluation data is unusable' },
  LT_TRAINING: { retryable: false, description: 'training failed' },
  LT_PARITY: { retryable: false, description: 'tfjs and onnxruntime disagree on the exported model' },
  LT_CHECKPOINT: { retryable: false, description: 'a training checkpoint cannot be read or written' },
} as const;

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
