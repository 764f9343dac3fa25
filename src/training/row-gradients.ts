/**
 * Row gradients (a table's gradient as the rows a batch gathered, see
 * RowGradient in the training graph's tape) summed per row, as the graph's
 * dense ScatterND would have summed them: in gather order, each add rounded
 * to float32, so a row comes out with the same bits either way.
 */

/** The distinct rows a batch touched and each one's summed gradient (`width` floats a row). */
export interface SummedRows {
  readonly rows: Int32Array;
  readonly values: Float32Array;
  readonly width: number;
}

export interface RowSum {
  /** One run's outputs: `ids` (int64, one per gathered position) and `grads` (`width` floats per id), scaled by `scale`. */
  add(ids: BigInt64Array, grads: Float32Array, scale: number): void;
  result(): SummedRows;
}

export function createRowSum(width: number): RowSum {
  const slot = new Map<number, number>();
  let rows = new Int32Array(1024);
  let values = new Float32Array(1024 * width);
  return {
    add(ids, grads, scale) {
      const f = Math.fround;
      for (let i = 0; i < ids.length; i++) {
        const row = Number(ids[i]);
        let s = slot.get(row);
        if (s === undefined) {
          s = slot.size;
          slot.set(row, s);
          if (s === rows.length) {
            rows = grow(rows, rows.length * 2);
            values = grow(values, values.length * 2);
          }
          rows[s] = row;
        }
        // Locals, not the closure's reassignable arrays, so V8 keeps the loop tight; a scale
        // of 1 leaves a float32 as it is, so skipping the product changes no bit.
        const sum = values;
        const at = s * width;
        const from = i * width;
        if (scale === 1) for (let j = 0; j < width; j++) sum[at + j] = f(sum[at + j] + grads[from + j]);
        else for (let j = 0; j < width; j++) sum[at + j] = f(sum[at + j] + f(grads[from + j] * scale));
      }
    },
    result: () => ({ rows: rows.subarray(0, slot.size), values: values.subarray(0, slot.size * width), width }),
  };
}

function grow<A extends Int32Array | Float32Array>(a: A, size: number): A {
  const out = new (a.constructor as new (n: number) => A)(size);
  out.set(a);
  return out;
}
