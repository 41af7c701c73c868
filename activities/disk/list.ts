import { lstat, readdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import picomatch from 'picomatch';
import type { FileEntry } from './file-plan';

/**
 * Regular files under `dir` matching `pattern` (relative paths). Symlinks are never followed.
 * Dotfiles match only with `dot` (or a pattern that names them, like `.cache/*`).
 */
export async function listFiles(dir: string, pattern: string, dot: boolean): Promise<FileEntry[]> {
  const root = resolve(dir);
  const matches = picomatch(pattern, { dot });
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files: FileEntry[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue; // directories, symlinks, sockets
    const full = join(entry.parentPath ?? entry.path, entry.name);
    const path = relative(root, full);
    if (!matches(path)) continue;
    const s = await lstat(full).catch(() => null); // gone since the listing
    if (s?.isFile()) files.push({ path, size: s.size, mtimeMs: s.mtimeMs });
  }
  return files;
}
