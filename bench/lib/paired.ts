/**
 * Split-by-split comparison for the quality benches: splits differ more from
 * each other than two paths do on one split, so margins are judged paired.
 */
export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
export const sd = (xs: readonly number[]): number => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));

/** Two-sided 95% Student t quantiles for 1–20 degrees of freedom; 2.0 beyond. */
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086];
const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(4)}`;

/** Split-by-split difference a − b: its mean with a 95% interval, and on how many splits a is ahead, level, behind. */
export function paired(a: readonly number[], b: readonly number[]): string {
  const d = a.map((x, i) => x - b[i]);
  const half = d.length < 2 ? NaN : (T95[d.length - 2] ?? 2) * (sd(d) / Math.sqrt(d.length));
  const ahead = d.filter((x) => x > 1e-9).length;
  const behind = d.filter((x) => x < -1e-9).length;
  return `${signed(mean(d))} [${signed(mean(d) - half)}, ${signed(mean(d) + half)}], ${ahead}/${d.length - ahead - behind}/${behind}`;
}
