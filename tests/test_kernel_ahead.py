"""Kernels started ahead (autograder.kernel_ahead): the same kernel a notebook would start itself.

A kernel started before its notebook is known gets the notebook's folder as a kernel started in
it does; one started under other settings, or dead, is never taken. That grades are unchanged is
tests/test_grading.py's (sequential, parallel and without kernels ahead: one gradebook).
"""
import pytest
from jupyter_core.utils import run_sync
from nbgrader import utils

from autograder import kernel_ahead
from autograder.execute import GradingExecute
from autograder.nbgrader_setup import load_config
from test_sandbox import SANDBOXED, run_in_kernel

pytestmark = pytest.mark.slow

@pytest.fixture
def folder(tmp_path):
    """A notebook's folder: its data, the student's module and the graded notebook."""
    (tmp_path / "data.txt").write_text("student data")
    (tmp_path / "mod.py").write_text("VALUE = 42\n")
    for name in ("k.csv", "b.csv", "z.csv", "a.csv", "m.csv"):   # glob('*.csv') order is the folder's
        (tmp_path / name).write_text(name)
    (tmp_path / "graded.ipynb").write_text("{}")
    return tmp_path


PROBE = """
import os
print("cwd", os.listdir("."), open("data.txt").read(), os.environ.get("NBGRADER_EXECUTION"))
import sys
sys.path.insert(0, "")   # as a student's own module would be imported
import mod
print(mod.VALUE)
"""


def run_on(km, code, timeout=60):
    """Run code on a kernel manager's kernel (as GradingExecute does: the staged files first);
    (stdout, error name), then shut the kernel down."""
    async def go():
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            chunks, errors = [], []

            def hook(msg):
                if msg["msg_type"] == "stream":
                    chunks.append(msg["content"]["text"])
                elif msg["msg_type"] == "error":
                    errors.append(msg["content"]["ename"] + ": " + msg["content"]["evalue"])

            await kc.execute_interactive(km.take_staged_code() + code, timeout=timeout, output_hook=hook)
            return "".join(chunks), (errors[0] if errors else "")
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
    return run_sync(go)()


@pytest.mark.parametrize("sandboxed", [pytest.param(True, marks=pytest.mark.sandbox), False])
def test_a_kernel_started_ahead_gets_its_notebooks_folder_as_one_started_there(folder, sandboxed):
    config = load_config({"SandboxedKernelManager.sandbox": sandboxed})
    kernel_ahead.start(GradingExecute(config=config), "python3")   # before the folder is known, as for the next job
    with utils.setenv(NBGRADER_EXECUTION="autograde"):   # as nbgrader's autograde runs a notebook
        km = kernel_ahead.take(GradingExecute(config=config), "python3", str(folder))
        started_there, error_there, _, _, _ = run_in_kernel(PROBE, folder, sandbox=sandboxed)
    assert km is not None and km.isolation.startswith("bubblewrap" if sandboxed else "unsandboxed")
    out, error = run_on(km, PROBE)
    assert error == error_there == "", (out, error, error_there)
    assert out == started_there   # the same files in the same order, the same environment
    listing = out.split(" student data")[0]
    assert listing.startswith("cwd [") and "ipynb" not in listing and "mod.py" in listing
    assert out.endswith(" student data autograde\n42\n"), out
    assert not (folder / "__pycache__").exists()   # the kernel worked on its own copy


def test_a_notebook_without_a_kernel_name_gets_no_kernel_ahead():
    kernel_ahead.start(GradingExecute(config=load_config()), "")
    assert kernel_ahead._spare is None


@pytest.mark.skipif(not SANDBOXED, reason="no sandbox here")
@pytest.mark.sandbox
def test_a_kernel_started_under_other_settings_or_dead_is_not_taken(folder):
    kernel_ahead.start(GradingExecute(config=load_config({"SandboxedKernelManager.memory_limit": 3 * 1024 ** 3})),
                       "python3")
    waiting = kernel_ahead._spare[1]
    assert kernel_ahead.take(GradingExecute(config=load_config()), "python3", str(folder)) is None
    assert kernel_ahead._spare is None and not run_sync(waiting.is_alive)()   # and it was shut down

    config = load_config()
    kernel_ahead.start(GradingExecute(config=config), "python3")
    assert kernel_ahead.take(GradingExecute(config=config), "other-kernel", str(folder)) is None

    kernel_ahead.start(GradingExecute(config=config), "python3")
    run_sync(kernel_ahead._spare[1].shutdown_kernel)(now=True)
    assert kernel_ahead.take(GradingExecute(config=config), "python3", str(folder)) is None


def test_starting_ahead_can_be_turned_off(folder):
    kernel_ahead.start(GradingExecute(config=load_config({"KernelAhead.enabled": False})), "python3")
    assert kernel_ahead._spare is None
