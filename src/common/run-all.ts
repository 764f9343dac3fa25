/**
 * Runs shutdown steps in order, each even when an earlier one failed (a
 * drain that fails must still close the producer behind it), then rethrows
 * the first failure so the caller still learns of it.
 */
export async function runAll(steps: readonly (() => unknown)[]): Promise<void> {
  let failed: { error: unknown } | undefined;
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failed ??= { error };
    }
  }
  if (failed) throw failed.error;
}
