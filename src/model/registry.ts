import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { LivetagError } from '../common/errors.ts';
import { loadBundle, type Manifest } from './bundle.ts';

const STATE_FILE = 'registry.json';
const VERSIONS = 'versions';
export const CURRENT_LINK = 'current';

const StateSchema = z.object({
  current: z.string().nullable(),
  /** Promotions, oldest first; rollback walks back along it. */
  history: z.array(z.string()),
});
type State = z.infer<typeof StateSchema>;

export interface RegistryEntry {
  readonly id: string;
  readonly current: boolean;
  readonly manifest: Readonly<Manifest>;
}

export interface ModelRegistry {
  readonly root: string;
  /** Copies a verified bundle into versions/<id> (id = its manifest version); returns the id. */
  publish(bundleDir: string): Promise<string>;
  promote(id: string): Promise<void>;
  /** Promotes the version that was current before the current one; returns it. */
  rollback(): Promise<string>;
  current(): Promise<string | null>;
  /** Directory of a version (current when omitted). */
  path(id?: string): Promise<string>;
  list(): Promise<RegistryEntry[]>;
  /** Deletes all but the newest `keep` versions, never the current or the one rollback would restore. */
  prune(keep: number): Promise<string[]>;
}

const tmpName = (): string => `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;

/** Writes a file by rename, so readers see the old or the new content, never a mix. */
async function atomicWrite(path: string, content: string): Promise<void> {
  const tmp = `${path}${tmpName()}`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

/**
 * A model registry on a filesystem path (a volume shared by the retrain job
 * and the serving pods): versions/<id>/ bundles, registry.json holding the
 * current id and the promotion history, and a `current` symlink for readers
 * that only want a bundle path. Both are replaced by rename, atomically.
 */
export function createModelRegistry(root: string): ModelRegistry {
  const abs = resolve(root);
  const versionDir = (id: string): string => join(abs, VERSIONS, id);

  async function readState(): Promise<State> {
    try {
      return StateSchema.parse(JSON.parse(await readFile(join(abs, STATE_FILE), 'utf8')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { current: null, history: [] };
      throw new LivetagError('LT_BUNDLE_MANIFEST_INVALID', `${join(abs, STATE_FILE)}: ${(err as Error).message}`, { cause: err });
    }
  }

  async function writeState(state: State): Promise<void> {
    await mkdir(abs, { recursive: true });
    await atomicWrite(join(abs, STATE_FILE), JSON.stringify(state, null, 2) + '\n');
    if (state.current) {
      const tmp = join(abs, `${CURRENT_LINK}${tmpName()}`);
      await symlink(join(VERSIONS, state.current), tmp);
      await rename(tmp, join(abs, CURRENT_LINK));
    }
  }

  async function ensureVersion(id: string): Promise<void> {
    // Refuse to point `current` at something that does not verify.
    await loadBundle(versionDir(id));
  }

  const registry: ModelRegistry = {
    root: abs,
    async publish(bundleDir) {
      const bundle = await loadBundle(bundleDir);
      const id = bundle.manifest.version;
      const dest = versionDir(id);
      try {
        await loadBundle(dest);
        return id; // already published, same verified content
      } catch {
        /* not there yet */
      }
      await mkdir(join(abs, VERSIONS), { recursive: true });
      const tmp = join(abs, VERSIONS, tmpName());
      await cp(bundleDir, tmp, { recursive: true });
      await rm(dest, { recursive: true, force: true });
      await rename(tmp, dest);
      return id;
    },
    async promote(id) {
      await ensureVersion(id);
      const state = await readState();
      if (state.current === id) return;
      await writeState({ current: id, history: [...state.history, id] });
    },
    async rollback() {
      const state = await readState();
      if (!state.current || state.history.length < 2) {
        throw new LivetagError('LT_USAGE', `${abs}: no earlier version to roll back to`);
      }
      const history = state.history.slice(0, -1);
      const previous = history[history.length - 1];
      await ensureVersion(previous);
      await writeState({ current: previous, history });
      return previous;
    },
    async current() {
      return (await readState()).current;
    },
    async path(id) {
      const which = id ?? (await readState()).current;
      if (!which) throw new LivetagError('LT_BUNDLE_MISSING_FILE', `${abs}: no current model (promote one first)`);
      return versionDir(which);
    },
    async list() {
      const state = await readState();
      let ids: string[] = [];
      try {
        ids = (await readdir(join(abs, VERSIONS))).filter((n) => !n.startsWith('.'));
      } catch {
        return [];
      }
      const entries: RegistryEntry[] = [];
      for (const id of ids.sort()) {
        try {
          const { manifest } = await loadBundle(versionDir(id));
          entries.push({ id, current: id === state.current, manifest });
        } catch {
          // A version that no longer verifies is listed by `prune` candidates only.
        }
      }
      return entries;
    },
    async prune(keep) {
      const state = await readState();
      const protect = new Set([state.current, state.history[state.history.length - 2]].filter(Boolean) as string[]);
      const ids = (await readdir(join(abs, VERSIONS)).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).sort();
      const doomed = ids.slice(0, Math.max(0, ids.length - keep)).filter((id) => !protect.has(id));
      for (const id of doomed) await rm(versionDir(id), { recursive: true, force: true });
      if (doomed.length) await writeState({ ...state, history: state.history.filter((h) => !doomed.includes(h)) });
      return doomed;
    },
  };
  return registry;
}
