/**
 * The one way a command names a model: a bundle directory, a training run
 * directory (as `livetag train --out` writes it, the bundle in bundle/), or a
 * registry version `<registry-dir>@<version>` / `<registry-dir>@current`.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LivetagError } from '../../common/errors.ts';
import { createModelRegistry } from './registry.ts';

const MANIFEST = 'manifest.json';
// The training run layout's bundle folder (src/training/run-dir.ts BUNDLE_DIR); not imported
// from there because model code must not depend on training code.
const RUN_BUNDLE = 'bundle';

export const MODEL_REF_FORMS = 'a bundle directory (manifest.json), a training run directory (bundle/manifest.json) or <registry-dir>@<version|current>';

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** `<registry-dir>@<version>` split at its last @, or undefined when the ref has no such form. */
export function parseRegistryRef(ref: string): { readonly root: string; readonly version: string } | undefined {
  const at = ref.lastIndexOf('@');
  if (at <= 0) return undefined;
  const root = ref.slice(0, at);
  const version = ref.slice(at + 1);
  if (version === '' || version.includes('/')) return undefined;
  return { root, version };
}

async function resolveRegistryRef(ref: string, root: string, version: string): Promise<string> {
  if (!(await isDirectory(root))) throw new LivetagError('LT_BUNDLE_MISSING_FILE', `${ref}: no model registry at ${root}`);
  const registry = createModelRegistry(root);
  let dir: string;
  try {
    dir = await registry.path(version === 'current' ? undefined : version);
  } catch (err) {
    throw new LivetagError('LT_BUNDLE_MISSING_FILE', `${ref}: ${(err as Error).message}`, { cause: err });
  }
  if (!(await isFile(join(dir, MANIFEST)))) throw new LivetagError('LT_BUNDLE_MISSING_FILE', `${ref}: registry ${registry.root} has no version "${version}" (no ${join(dir, MANIFEST)})`);
  return dir;
}

/**
 * The bundle directory a model ref names. A bundle or run directory is
 * returned as given (relative stays relative); a registry version as its
 * absolute directory. Existing paths win over the @ form, so a directory
 * whose name contains @ still works. Only checks manifest.json is there:
 * loading verifies the rest.
 */
export async function resolveModelRef(ref: string): Promise<string> {
  if (await isFile(join(ref, MANIFEST))) return ref;
  if (await isFile(join(ref, RUN_BUNDLE, MANIFEST))) return join(ref, RUN_BUNDLE);
  const registryRef = (await isDirectory(ref)) ? undefined : parseRegistryRef(ref);
  if (registryRef) return resolveRegistryRef(ref, registryRef.root, registryRef.version);
  throw new LivetagError('LT_BUNDLE_MISSING_FILE', `${ref}: not a model: no ${MANIFEST} or ${RUN_BUNDLE}/${MANIFEST} there; expected ${MODEL_REF_FORMS}`);
}
