/** Names and versions every livetag ONNX graph shares: the writer emits them, the runtime and the bundle loader check them. */
/** Hugging Face's extended attention mask adds a large negative bias at padding; -1e4 stays finite in fp16 too. */
export const ATTENTION_MASK_BIAS = -10000;
export const ONNX_OPSET = 17;
export const MS_DOMAIN = 'com.microsoft';
export const ONNX_IR_VERSION = 8;
export const INPUT_NAMES = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
/** A 'text' n-gram branch's own input: textCodes per row, [batch, chars] int64, 0-padded. */
export const NGRAM_INPUT = 'ngram_codes';
export const OUTPUT_NAME = 'logits';
export const HIDDEN_OUTPUT_NAME = 'hidden_states';
