/**
 * C's strerror() text for a Node file-system error, so that messages read as QEMU's
 * (`Could not open 'x': No such file or directory`).
 */
const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory', EACCES: 'Permission denied', EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory', EROFS: 'Read-only file system', ENOSPC: 'No space left on device',
  EPERM: 'Operation not permitted', EEXIST: 'File exists', EMFILE: 'Too many open files',
  ENAMETOOLONG: 'File name too long', ELOOP: 'Too many levels of symbolic links',
};

export function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code ?? '';
  return STRERROR[code] ?? (e instanceof Error ? e.message : String(e));
}
