import { cp, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { isTempSibling, replaceDirAtomically, replaceSymlinkAtomically, writeFileAtomically } from '../../common/atomic-write.ts';
import { LivetagError } from '../../common/errors.ts';
import { loadBundle } from '../runtime/load-bundle.ts';
import { MANIFEST_FILE, type Manifest } from '../manifest.ts';

const STATE_FILE = 'registry.json';
const VERSIONS = 'versions';
export const CURRENT_LINK = 'current';

/**
 * A version id names a directory under versions/: pointers read from
 * registry.json, the CLI or a Kafka announcement must never lead elsewhere.
 */
export const VersionIdSchema = z.string().regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/, 'not a version id (letters, digits, ".", "_", "-"; no "/" or leading ".")');
/** registry.json is a few KB; anything far larger is not one. */
const MAX_STATE_BYTES = 1024 * 1024;

const StateSchema = z.object({
  current: VersionIdSchema.nullable(),
  /** Promotions, oldest first; rollback walks back along it. */
  history: z.array(VersionIdSchema).max(100_000),
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

async function readState(root: string): Promise<State> {
  const file = join(root, STATE_FILE);
  try {
    if ((await stat(file)).size > MAX_STATE_BYTES) throw new Error(`over ${MAX_STATE_BYTES} bytes`);
    const state = StateSchema.parse(JSON.parse(await readFile(file, 'utf8')));
    if (state.current !== null && !state.history.includes(state.current)) throw new Error(`current "${state.current}" was never promoted (not in history)`);
    return state;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { current: null, history: [] };
    throw new LivetagError('LT_REGISTRY_INVALID', `${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * registry.json first, then the `current` link, each replaced by a rename and
 * flushed, so after a crash both name a complete version. The link cannot go
 * through writeFileAtomically (it is a symlink, not a file), so it gets the
 * same sibling-then-rename treatment here.
 */
async function writeState(root: string, state: State): Promise<void> {
  await writeFileAtomically(join(root, STATE_FILE), JSON.stringify(state, null, 2) + '\n');
  if (!state.current) return;
  await replaceSymlinkAtomically(join(root, CURRENT_LINK), join(VERSIONS, state.current));
}

const LOCK_FILE = '.registry.lock';
/** Longer than any registry change takes: a lock this old was left by a killed process. */
const STALE_LOCK_MS = 10 * 60_000;
const LEFTOVER_MS = 60 * 60_000;
/** Versions a prune moved aside before deleting them. */
const PRUNED_PREFIX = '.pruned-';
const STALE_BREAKER_MS = 60_000;
const LOCK_WAIT_MS = 60_000;

/**
 * Runs a read-modify-write of the registry state under an exclusive lock file (O_EXCL, which a
 * shared volume's NFS honours): a prune racing a rollback would otherwise write back the state it
 * read, undoing the rollback, and two promotions would lose one from the history.
 */
async function withLock<T>(root: string, change: () => Promise<T>): Promise<T> {
  const lock = join(root, LOCK_FILE);
  await mkdir(root, { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (let wait = 10; ; wait = Math.min(2 * wait, 500)) {
    try {
      await writeFile(lock, `${process.pid} ${new Date().toISOString()}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const since = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (since > STALE_LOCK_MS) {
        await breakStaleLock(lock);
        continue;
      }
      if (Date.now() > deadline) throw new LivetagError('LT_REGISTRY_BUSY', `${root}: ${LOCK_FILE} held for ${Math.round(since / 1000)} s by another process`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
  try {
    return await change();
  } finally {
    await rm(lock, { force: true });
  }
}

/**
 * Removes a stale lock, one waiter at a time: each takes `.registry.lock.break`
 * (O_EXCL) and looks again before removing. Removing it on the first look
 * let a second waiter, which had also seen it stale, delete the lock the first
 * had just taken, and both changed the registry at once. A breaker left by a
 * killed process is cleared after a minute; a break takes milliseconds.
 */
async function breakStaleLock(lock: string): Promise<void> {
  const breaker = `${lock}.break`;
  const breakerAge = await stat(breaker).then((s) => Date.now() - s.mtimeMs, () => -1);
  if (breakerAge > STALE_BREAKER_MS) await rm(breaker, { force: true });
  if (!(await writeFile(breaker, `${process.pid}\n`, { flag: 'wx' }).then(() => true, () => false))) return;
  try {
    const since = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (since > STALE_LOCK_MS) await rm(lock, { force: true });
  } finally {
    await rm(breaker, { force: true });
  }
}

/** Leftovers of a killed publish (its temp copy) or prune (versions moved aside), an hour old: nothing running still writes them. */
async function removeLeftovers(root: string): Promise<void> {
  const dir = join(root, VERSIONS);
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!isTempSibling(name) && !name.startsWith(PRUNED_PREFIX)) continue;
    const age = await stat(join(dir, name)).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > LEFTOVER_MS) await rm(join(dir, name), { recursive: true, force: true });
  }
}

/** Version ids on disk, sorted; temp and moved-aside directories start with '.' and are skipped. */
async function versionIds(root: string): Promise<string[]> {
  const names = await readdir(join(root, VERSIONS)).catch(() => [] as string[]);
  return names.filter((n) => !n.startsWith('.')).sort();
}

/**
 * A model registry on a filesystem path (a volume shared by the retrain job
 * and the serving pods): versions/<id>/ bundles, registry.json holding the
 * current id and the promotion history, and a `current` symlink for readers
 * that only want a bundle path. Each is replaced atomically.
 */
export function createModelRegistry(root: string): ModelRegistry {
  const abs = resolve(root);
  const versionDir = (id: string): string => {
    if (!VersionIdSchema.safeParse(id).success) throw new LivetagError('LT_REGISTRY_INVALID', `${abs}: ${JSON.stringify(id.slice(0, 200))} is not a version id`);
    return join(abs, VERSIONS, id);
  };
  // Refuse to point `current` at something that does not verify.
  const ensureVersion = async (id: string): Promise<void> => {
    await loadBundle(versionDir(id));
  };

  return {
    root: abs,
    async publish(bundleDir) {
      const id = (await loadBundle(bundleDir)).manifest.version;
      const published = await loadBundle(versionDir(id)).then(
        () => true,
        () => false,
      );
      if (published) {
        // The manifest holds every file's digest: the same manifest is the same content.
        const [ours, theirs] = await Promise.all([readFile(join(bundleDir, MANIFEST_FILE)), readFile(join(versionDir(id), MANIFEST_FILE))]);
        if (ours.equals(theirs)) return id;
        throw new LivetagError('LT_REGISTRY_CONFLICT', `${abs}: version ${id} is already published with other content (thresholds, weights or measurements differ); a version names one content for good: publish other content under a new version (a new train or import-hf run stamps one; \`livetag optimize\` names its output <source version>-opt, so optimize a newly trained bundle), or, if ${id} was never promoted, remove versions/${id} first`);
      }
      // Links are copied as the files they lead to: a relative link inside the bundle would otherwise lead back to the source.
      await replaceDirAtomically(versionDir(id), (tmp) => cp(bundleDir, tmp, { recursive: true, dereference: true }));
      return id;
    },
    async promote(id) {
      await withLock(abs, async () => {
        // Under the lock: a prune that held it may have just moved this version aside.
        await ensureVersion(id);
        const state = await readState(abs);
        if (state.current === id) return;
        await writeState(abs, { current: id, history: [...state.history, id] });
      });
    },
    rollback: () =>
      withLock(abs, async () => {
        const state = await readState(abs);
        if (!state.current || state.history.length < 2) {
          throw new LivetagError('LT_REGISTRY_NO_ROLLBACK', `${abs}: no earlier version to roll back to`);
        }
        const history = state.history.slice(0, -1);
        const previous = history[history.length - 1];
        await ensureVersion(previous);
        await writeState(abs, { current: previous, history });
        return previous;
      }),
    async current() {
      return (await readState(abs)).current;
    },
    async path(id) {
      const which = id ?? (await readState(abs)).current;
      if (!which) throw new LivetagError('LT_BUNDLE_MISSING_FILE', `${abs}: no current model (promote one first)`);
      return versionDir(which);
    },
    async list() {
      const state = await readState(abs);
      const entries: RegistryEntry[] = [];
      for (const id of await versionIds(abs)) {
        // A version that no longer verifies is left out; prune still counts it.
        const bundle = await loadBundle(versionDir(id)).catch(() => undefined);
        if (bundle) entries.push({ id, current: id === state.current, manifest: bundle.manifest });
      }
      return entries;
    },
    async prune(keep) {
      // Under the lock only the renames aside (quick); the deletes run after it is released.
      const { doomed, aside } = await withLock(abs, async () => {
        const state = await readState(abs);
        const protect = new Set([state.current, state.history[state.history.length - 2]].filter(Boolean) as string[]);
        const ids = await versionIds(abs);
        const doomed = ids.slice(0, Math.max(0, ids.length - keep)).filter((id) => !protect.has(id));
        const aside: string[] = [];
        for (const id of doomed) {
          const to = join(abs, VERSIONS, `${PRUNED_PREFIX}${id}-${process.pid}`);
          await rename(versionDir(id), to);
          aside.push(to);
        }
        if (doomed.length) await writeState(abs, { ...state, history: state.history.filter((h) => !doomed.includes(h)) });
        return { doomed, aside };
      });
      for (const dir of aside) await rm(dir, { recursive: true, force: true });
      await removeLeftovers(abs);
      return doomed;
    },
  };
}
