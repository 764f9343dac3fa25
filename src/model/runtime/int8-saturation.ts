import { readFileSync } from 'node:fs';
import { INT8_WEIGHT_MAX, type Variant } from '../manifest.ts';
import { int8WeightRange } from '../onnx-reader.ts';

/**
 * Whether onnxruntime's int8 GEMMs on this CPU add pairs of u8 × s8 products
 * into a saturating int16 (vpmaddubsw): x86-64 without VNNI. ARM's dot
 * products and VNNI accumulate in int32. Unknown x86 flags count as saturating:
 * serving fp32 there costs speed, never tags.
 */
export function int8PairsSaturate(arch: string = process.arch, cpuinfo: () => string = () => readFileSync('/proc/cpuinfo', 'utf8')): boolean {
  if (arch !== 'x64') return false;
  try {
    return !/\b(avx512_vnni|avx_vnni|amx_int8)\b/.test(cpuinfo());
  } catch {
    return true;
  }
}

/**
 * Why an int8 variant should not serve here, or undefined: its weights span
 * more than INT8_WEIGHT_MAX (an older livetag's optimize) and this CPU
 * saturates their products, which moved a tiny model's logits by 0.25 where
 * VNNI moved them 0.045. The variant's manifest says its range; older ones
 * are read from the graph (~0.4 s for bert-base), and only where it matters.
 */
export function int8Unsafe(variant: Variant, bytes: () => Uint8Array, saturates: () => boolean = int8PairsSaturate): string | undefined {
  if (variant.precision !== 'int8' || !saturates()) return undefined;
  const range = variant.int8WeightMax ?? int8WeightRange(bytes());
  if (range <= INT8_WEIGHT_MAX) return undefined;
  return `its int8 weights span ±${range}, and this CPU (x86-64 without VNNI) saturates their products above ±${INT8_WEIGHT_MAX}; rerun \`livetag optimize\` on the bundle to rebuild it`;
}
