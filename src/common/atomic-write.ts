import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LivetagError } from './errors.ts';

function sibling(path: string, tag: string): string {
  return join(dirname(path), `.${basename(path)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Whether a file name is the temp copy a write or replace above was making (one a killed process may leave). */
export function isTempSibling(name: string): boolean {
  return /^\..+\.tmp-\d+-[0-9a-f]{8}$/.test(name);
}

/** fsync a file or directory; a crash after rename must not leave an empty file behind a new name. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some filesystems (and Windows for directories) refuse fsync on a directory handle.
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL' && (err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
  } finally {
    await handle.close();
  }
}

async function fsyncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await fsyncTree(path);
    else if (entry.isFile()) await fsyncPath(path);
  }
  await fsyncPath(dir);
}

/**
 * Replaces `path` with a file holding `content`: written to a sibling temp
 * file, flushed, renamed over the old one. Readers see the old or the new
 * content, never a mix.
 */
export async function writeFileAtomically(path: string, content: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = sibling(path, 'tmp');
  try {
    await writeFile(tmp, content);
    await fsyncPath(tmp);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncPath(dirname(path));
}

export interface ReplaceOptions {
  /**
   * Names of which one marks an existing `dir` as what this write made before (a bundle's
   * manifest.json): a directory holding none of them, or a file, is refused (LT_USAGE) rather
   * than deleted. Absent, any `dir` is replaced.
   */
  readonly ownedBy?: readonly string[];
}

/** Refuses to replace `dir` unless it is absent, empty, or holds one of `markers`. */
export async function assertReplaceable(dir: string, markers: readonly string[]): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    const what = (err as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'is a file' : `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
    throw new LivetagError('LT_USAGE', `${dir} ${what}; give a new directory to write into`, { cause: err });
  }
  if (entries.length === 0 || entries.some((e) => markers.includes(e))) return;
  throw new LivetagError('LT_USAGE', `${dir} holds other files (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}), none of ${markers.join(' or ')}: it would be replaced whole; give a new directory`);
}

/**
 * Replaces directory `dir` with one that `fill` builds in a sibling temp
 * directory: every file is flushed, then the old directory is moved aside and
 * the new one renamed into place, so a reader never sees a half-written tree.
 * A failure leaves the old directory as it was.
 */
export async function replaceDirAtomically(dir: string, fill: (tmp: string) => Promise<void>, opts: ReplaceOptions = {}): Promise<void> {
  if (opts.ownedBy) await assertReplaceable(dir, opts.ownedBy);
  await mkdir(dirname(dir), { recursive: true });
  const tmp = sibling(dir, 'tmp');
  const old = sibling(dir, 'old');
  await mkdir(tmp);
  try {
    await fill(tmp);
    await fsyncTree(tmp);
    const moved = await rename(dir, old).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      },
    );
    try {
      await rename(tmp, dir);
    } catch (err) {
      if (moved) await rename(old, dir);
      throw err;
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  await rm(old, { recursive: true, force: true });
  await fsyncPath(dirname(dir));
}

/** Writes each named file into `dir` (a helper for `replaceDirAtomically`'s fill). */
export async function writeFiles(dir: string, files: Iterable<readonly [string, string | Uint8Array]>): Promise<void> {
  for (const [name, content] of files) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), content);
  }
}

/**
 * What an interrupted `replaceDirAtomically(dir)` can leave beside `dir`: the
 * parked previous copy (`old`; the only copy left when a kill fell between its
 * two renames) and the half-filled temp (`tmp`).
 */
export async function leftoversOf(dir: string): Promise<{ old: string[]; tmp: string[] }> {
  const names = await readdir(dirname(dir)).catch(() => [] as string[]);
  const beside = (tag: string): string[] => names.filter((n) => n.startsWith(`.${basename(dir)}.${tag}-`)).map((n) => join(dirname(dir), n));
  return { old: beside('old'), tmp: beside('tmp') };
}

/** Points symlink `link` at `target` by rename, so readers see the old or the new target, never none. */
export async function replaceSymlinkAtomically(link: string, target: string): Promise<void> {
  const tmp = sibling(link, 'tmp');
  await symlink(target, tmp);
  try {
    await rename(tmp, link);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncPath(dirname(link));
}
