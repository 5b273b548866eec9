"""What students receive: the released notebooks, the utils package, a README and requirements.

    python -m autograder release --bundle PATH     (a folder, or a zip when PATH ends in .zip)

The bundle is built from notebooks/ (the nbgrader release, which has no solution and no hidden
test) and utils/; nothing from solutions/, autograder/ or a grading folder goes in. write_bundle
checks the result and refuses to write a bundle that contains a solution or hidden-test marker.

The students' requirements are utils/requirements.txt, written unchanged (below a line saying
how to install) as the bundle's top-level requirements.txt, where the students' README's
`python -m pip install -r requirements.txt ./utils` finds it; the bundle's utils/ leaves it out, so
the bundle holds it once.
"""
import fnmatch
import os
import shutil
import tempfile
import zipfile

from autograder import NOTEBOOKS, REPO, markers

UTILS = os.path.join(REPO, "utils")
README_TEMPLATE = os.path.join(REPO, "autograder", "student_README.md")
REQUIREMENTS = os.path.join(UTILS, "requirements.txt")
REQUIREMENTS_HEADER = "# Install from this folder:  python -m pip install -r requirements.txt ./utils\n\n"

# Never in a bundle: build products, caches, and anything of nbgrader's grading side.
IGNORE = ["__pycache__", "*.pyc", "build", "dist", "*.egg-info", ".ipynb_checkpoints", ".pytest_cache",
          "*.db", "gradebook*", ".*"]
FORBIDDEN_NAMES = {"solutions", "autograder", "submitted", "autograded", "feedback", "source", "release",
                   "gradebook.db", "grades.csv", "nbgrader_config.py"}


def _ignored(name):
    return any(fnmatch.fnmatch(name, pattern) for pattern in IGNORE)


def _copy_tree(src, dst, leave_out=()):
    """Copy src to dst without the IGNORE patterns, nor the names in leave_out at src's top."""
    shutil.copytree(src, dst, ignore=lambda folder, names: [
        n for n in names if _ignored(n) or (folder == src and n in leave_out)])


def student_requirements(requirements=REQUIREMENTS):
    """The bundle's requirements.txt: the students' requirements (utils/requirements.txt) unchanged,
    below a line saying how to install them."""
    with open(requirements) as f:
        return REQUIREMENTS_HEADER + f.read()


def _title(notebook):
    """The first heading of a notebook, for the README's list of assignments."""
    import nbformat
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return os.path.splitext(os.path.basename(notebook))[0]


def student_readme(notebooks_dir):
    items = []
    for assignment in sorted(os.listdir(notebooks_dir)):
        folder = os.path.join(notebooks_dir, assignment)
        if os.path.isdir(folder) and not _ignored(assignment):
            for name in sorted(os.listdir(folder)):
                if name.endswith(".ipynb"):
                    items.append(f"- `notebooks/{assignment}/{name}`: {_title(os.path.join(folder, name))}")
    with open(README_TEMPLATE) as f:
        return f.read().replace("{{ASSIGNMENTS}}", "\n".join(items))


def problems(folder):
    """Why folder is not a clean student bundle: grading material or solutions inside (empty if clean)."""
    found = []
    for path, dirs, files in os.walk(folder):
        rel = os.path.relpath(path, folder)
        for name in dirs + files:
            if name in FORBIDDEN_NAMES or name.endswith(".db"):
                found.append(f"{os.path.join(rel, name)}: grading material")
        for name in files:
            try:
                with open(os.path.join(path, name), encoding="utf-8") as f:
                    text = f.read()
            except UnicodeDecodeError:
                continue
            for marker in markers.ALL:
                if marker in text:
                    found.append(f"{os.path.join(rel, name)}: contains {marker!r}")
    return found


def build(dest, notebooks_dir=NOTEBOOKS):
    """Write the bundle's files into the new folder dest."""
    os.makedirs(dest)
    os.makedirs(os.path.join(dest, "notebooks"))
    for assignment in sorted(os.listdir(notebooks_dir)):
        src = os.path.join(notebooks_dir, assignment)
        if os.path.isdir(src) and not _ignored(assignment):
            _copy_tree(src, os.path.join(dest, "notebooks", assignment))
    # utils/requirements.txt is the bundle's top-level requirements.txt, not a second copy in utils/
    _copy_tree(UTILS, os.path.join(dest, "utils"), leave_out={os.path.basename(REQUIREMENTS)})
    with open(os.path.join(dest, "README.md"), "w") as f:
        f.write(student_readme(notebooks_dir))
    with open(os.path.join(dest, "requirements.txt"), "w") as f:
        f.write(student_requirements())


def _zip(folder, path, top):
    """A reproducible zip of folder, its files under top/ (sorted, fixed timestamps)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                info = zipfile.ZipInfo(os.path.join(top, os.path.relpath(full, folder)), (1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(full, "rb") as f:
                    z.writestr(info, f.read())


def _looks_like_bundle(folder):
    return all(os.path.exists(os.path.join(folder, n)) for n in ("notebooks", "utils", "requirements.txt"))


def write_bundle(path, notebooks_dir=NOTEBOOKS):
    """Write the student bundle to path: a zip when path ends in .zip, else a folder (an earlier
    bundle there is replaced; any other non-empty folder is an error). Returns path."""
    path = os.path.abspath(path)
    if not path.endswith(".zip") and os.path.isdir(path) and os.listdir(path) and not _looks_like_bundle(path):
        raise FileExistsError(f"{path} exists and is not a student bundle; choose another path")
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent) as tmp:
        staged = os.path.join(tmp, "bundle")
        build(staged, notebooks_dir)
        found = problems(staged)
        if found:
            raise RuntimeError("the student bundle would contain grading material:\n" + "\n".join(found))
        if path.endswith(".zip"):
            _zip(staged, path + ".partial", os.path.splitext(os.path.basename(path))[0])
            os.replace(path + ".partial", path)
        else:
            shutil.rmtree(path, ignore_errors=True)
            os.replace(staged, path)
    return path
