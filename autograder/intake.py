"""What the grader takes from a student's folder: regular files only, within a size budget.

A submission is the student's: a symbolic link in it could point at the solutions,
another student's notebook or a path that does not exist, a fifo could block a read,
and a huge file could be copied many times over. So nothing here follows a link or
opens anything but a regular file (checked with lstat, opened with O_NOFOLLOW), and
a submission's files are taken only up to `limit` bytes in all. The walk is bounded too:
at most MAX_ENTRIES files and folders, MAX_DEPTH folders deep (nbgrader's own file
handling is quadratic in the number of files). A notebook is taken only in format 4,
JupyterLab's: nbformat's upgrade of older formats can be made to allocate gigabytes.
What is left out is named with the reason, for the report and the student's feedback.
"""
import json
import os
import stat
from collections import deque

MiB = 1024 ** 2
SUBMISSION_LIMIT = 50 * MiB
MAX_ENTRIES = 500
MAX_DEPTH = 8
SKIPPED_FOLDERS = {".ipynb_checkpoints", "__pycache__", ".git"}


def take(folder, limit=SUBMISSION_LIMIT, first=()):
    """({relative path: bytes}, [(relative path, why left out)]) for the files under folder.

    first: relative paths to take before any other (the graded notebooks), so a large
    file beside them never pushes them over the budget.
    """
    entries, left_out = _walk(folder, set(first))
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
        if rel.endswith(".ipynb") and _notebook_format(data) not in (4, None):
            left_out.append((rel, "not a format-4 notebook: open and save it in JupyterLab"))
            continue
        files[rel] = data
        used += len(data)
    return files, sorted(left_out)


def _walk(folder, first=frozenset()):
    """([(relative path, size)] of the regular files, [(relative path, why)] left out), breadth
    first (the paths in `first` before the others), within MAX_ENTRIES and MAX_DEPTH; no link followed."""
    entries, left_out, seen = [], [], 0
    queue = deque([""])
    while queue:
        rel = queue.popleft()
        try:
            names = sorted(os.listdir(os.path.join(folder, rel) if rel else folder),
                           key=lambda name: (os.path.join(rel, name) not in first, name))
        except OSError as err:
            left_out.append((rel or ".", f"not readable ({err.strerror})"))
            continue
        for i, name in enumerate(names):
            path_rel = os.path.join(rel, name) if rel else name
            if seen >= MAX_ENTRIES:
                left_out.append((path_rel, f"over the {MAX_ENTRIES} files and folders taken from a submission"
                                 + (f", and {len(names) - i - 1} more here" if i + 1 < len(names) else "")))
                break
            seen += 1
            try:
                info = os.lstat(os.path.join(folder, path_rel))
            except OSError as err:
                left_out.append((path_rel, f"not readable ({err.strerror})"))
                continue
            if stat.S_ISDIR(info.st_mode):
                if name in SKIPPED_FOLDERS:
                    continue
                if path_rel.count(os.sep) + 1 >= MAX_DEPTH:
                    left_out.append((path_rel, f"a folder deeper than {MAX_DEPTH} levels"))
                else:
                    queue.append(path_rel)
            elif stat.S_ISREG(info.st_mode):
                entries.append((path_rel, info.st_size))
            else:
                left_out.append((path_rel, "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"))
    return entries, left_out


def _notebook_format(data):
    """The major nbformat version a notebook's JSON declares; None if it declares none or is not
    JSON (nbgrader then fails it with its own reason)."""
    try:
        return json.loads(data).get("nbformat")
    except (ValueError, AttributeError, RecursionError):
        return None


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
