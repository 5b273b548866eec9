"""What the grader takes from a student's folder: regular files only, within a size budget.

A submission is the student's: a symbolic link in it could point at the solutions,
another student's notebook or a path that does not exist, a fifo could block a read,
and a huge file could be copied many times over. So nothing here follows a link or
opens anything but a regular file (checked with lstat, opened with O_NOFOLLOW), and
a submission's files are taken only up to `limit` bytes in all. What is left out is
named with the reason, for the report and the student's feedback.
"""
import os
import stat

MiB = 1024 ** 2
SUBMISSION_LIMIT = 50 * MiB
SKIPPED_FOLDERS = {".ipynb_checkpoints", "__pycache__", ".git"}


def take(folder, limit=SUBMISSION_LIMIT, first=()):
    """({relative path: bytes}, [(relative path, why left out)]) for the files under folder.

    first: relative paths to take before any other (the graded notebooks), so a large
    file beside them never pushes them over the budget.
    """
    entries, left_out = [], []
    _walk(folder, "", entries, left_out)
    order = {path: i for i, path in enumerate(first)}
    entries.sort(key=lambda e: (order.get(e[0], len(order)), e[0]))
    files, used = {}, 0
    for rel, size in entries:
        if used + size > limit:
            left_out.append((rel, f"{_mb(size)}: over the {_mb(limit)} limit for a submission"))
            continue
        data = _read_regular(os.path.join(folder, rel), min(limit - used, size))
        if data is None:
            left_out.append((rel, "changed while it was read"))
            continue
        files[rel] = data
        used += len(data)
    return files, sorted(left_out)


def _walk(folder, rel, entries, left_out):
    try:
        names = sorted(os.listdir(os.path.join(folder, rel) if rel else folder))
    except OSError as err:
        left_out.append((rel or ".", f"not readable ({err.strerror})"))
        return
    for name in names:
        path_rel = os.path.join(rel, name) if rel else name
        try:
            info = os.lstat(os.path.join(folder, path_rel))
        except OSError as err:
            left_out.append((path_rel, f"not readable ({err.strerror})"))
            continue
        if stat.S_ISDIR(info.st_mode):
            if name not in SKIPPED_FOLDERS:
                _walk(folder, path_rel, entries, left_out)
        elif stat.S_ISREG(info.st_mode):
            entries.append((path_rel, info.st_size))
        else:
            left_out.append((path_rel, "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"))


def _read_regular(path, most):
    """The bytes of a regular file, never through a link; None if it is no longer one or has
    grown past `most` bytes since it was listed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb") as f:
            fd = None
            data = f.read(most + 1)
            return data if len(data) <= most else None
    finally:
        if fd is not None:
            os.close(fd)


def is_folder(path):
    """A real folder, not a link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _mb(size):
    return f"{size / MiB:.1f} MB" if size < 10 * MiB else f"{size / MiB:.0f} MB"


def describe(left_out):
    """One line naming what was left out, e.g. "notes.txt (a symbolic link); data.bin (60 MB: ...)"."""
    return "; ".join(f"{path} ({why})" for path, why in left_out)
