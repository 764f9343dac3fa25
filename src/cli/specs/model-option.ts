/** How every option that takes a model is described (resolved by src/model/registry/model-ref.ts). */
export const MODEL_VALUE = 'MODEL';
export const MODEL_FORMS = 'a bundle dir, a training run dir, or REGISTRY_DIR@VERSION (or @current)';
