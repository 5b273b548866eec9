"""The grading kernel's sandbox (autograder/sandbox.py), tested on kernels started directly."""
import asyncio
import os
import socket
import statistics
import time

import pytest

import faults as F
from autograder import REPO, sandbox
from autograder.sandbox import SandboxedKernelManager

SANDBOXED = sandbox.probe()[0]
needs_sandbox = pytest.mark.skipif(not SANDBOXED, reason=f"no bubblewrap sandbox here: {sandbox.probe()[1]}")


def run_in_kernel(code, cwd, timeout=120, interrupt_after=None, **traits):
    """Run code in a fresh SandboxedKernelManager kernel: (stdout, error name, manager, start seconds)."""
    async def go():
        km = SandboxedKernelManager(kernel_name="python3", **traits)
        started = time.perf_counter()
        await km.start_kernel(cwd=str(cwd), extra_arguments=["--HistoryManager.hist_file=:memory:"])
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            ready = time.perf_counter() - started
            chunks, errors = [], []

            def hook(msg):
                if msg["msg_type"] == "stream":
                    chunks.append(msg["content"]["text"])
                elif msg["msg_type"] == "error":
                    errors.append(msg["content"]["ename"])

            task = asyncio.ensure_future(kc.execute_interactive(code, timeout=timeout, output_hook=hook))
            if interrupt_after:
                await asyncio.sleep(interrupt_after)
                await km.interrupt_kernel()
            await task
            alive = await km.is_alive()
            return "".join(chunks), (errors[0] if errors else ""), km, ready, alive
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
            await km.cleanup_resources()
    return asyncio.run(go())


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "data.txt").write_text("student data")
    (tmp_path / "graded.ipynb").write_text('{"hidden": "### BEGIN HIDDEN TESTS"}')
    return tmp_path


@needs_sandbox
def test_the_kernel_sees_python_and_a_copy_of_its_folder_only(folder, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "s3cret")
    code = f"""
import os, sys
print("repo", sorted(os.listdir({REPO!r})))
print("solutions", os.path.exists({os.path.join(REPO, "solutions")!r}))
print("cwd", sorted(os.listdir(".")))
print("real folder", os.path.exists({str(folder)!r}))
print("token", "GRADER_SECRET_TOKEN" in os.environ)
print("uid-root-files", os.path.exists("/root/.bash_history"), os.path.exists("/etc/shadow"))
try:
    open({os.path.join(REPO, ".venv", "pwned")!r}, "w")
    print("venv writable")
except OSError:
    print("venv read-only")
import numpy, matplotlib.pyplot as plt
plt.plot([1, 2]); plt.savefig("plot.png")
print("plot", os.path.exists("plot.png"))
"""
    out, error, km, _, _ = run_in_kernel(code, folder)
    assert error == "", out
    assert km.isolation == "bubblewrap"
    assert "repo ['.venv']" in out and "solutions False" in out
    assert "cwd ['data.txt']" in out and "real folder False" in out   # notebooks are not copied in
    assert "token False" in out and "uid-root-files False False" in out
    assert "venv read-only" in out and "plot True" in out
    assert not (folder / "plot.png").exists()   # the kernel works on a private copy


@needs_sandbox
def test_the_kernel_has_no_network(folder):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(3)
    port = listener.getsockname()[1]
    code = f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"x")
    print("connected")
except OSError as err:
    print("refused", type(err).__name__)
"""
    out, _, _, _, _ = run_in_kernel(code, folder)
    assert "refused" in out
    with pytest.raises(socket.timeout):
        listener.accept()
    listener.close()


def test_rlimits_apply_to_the_kernel(folder):
    code = "import resource\nprint(resource.getrlimit(resource.RLIMIT_AS)[0], resource.getrlimit(resource.RLIMIT_CORE)[0])"
    out, _, _, _, _ = run_in_kernel(code, folder, memory_limit=3 * 1024 ** 3)
    assert out.split() == [str(3 * 1024 ** 3), "0"]


def test_an_interrupt_stops_the_cell_and_keeps_the_kernel(folder):
    out, error, _, _, alive = run_in_kernel("while True:\n    pass", folder, interrupt_after=3)
    assert error == "KeyboardInterrupt" and alive


@needs_sandbox
def test_a_tensorflow_kernel_fits_a_keras_model_within_the_memory_limit(folder):
    code = """
import numpy as np, tensorflow as tf
model = tf.keras.Sequential([tf.keras.Input((64,)), tf.keras.layers.Dense(1, activation="sigmoid")])
model.compile(loss="binary_crossentropy", optimizer="adam")
X = np.random.default_rng(0).random((200, 64)); y = (X.sum(1) > 32).astype(float)
model.fit(X, y, epochs=3, verbose=0)
peak = [l for l in open("/proc/self/status") if l.startswith("VmPeak")][0].split()[1]
print("fitted", model.predict(X[:2], verbose=0).shape, "VmPeak_kB", peak)
"""
    out, error, km, _, _ = run_in_kernel(code, folder, timeout=300)
    assert error == "" and "fitted (2, 1)" in out, out
    peak = int(out.split("VmPeak_kB")[1].split()[0]) * 1024
    assert peak < km.memory_limit
    print(f"TensorFlow kernel peak address space: {peak / 1024 ** 3:.2f} GiB (limit {km.memory_limit / 1024 ** 3:g})")


@needs_sandbox
def test_the_sandbox_adds_little_kernel_startup_time(folder):
    times = {True: [], False: []}
    for _ in range(3):
        for sandboxed in (True, False):
            _, _, _, ready, _ = run_in_kernel("pass", folder, sandbox=sandboxed)
            times[sandboxed].append(ready)
    overhead = statistics.median(times[True]) - statistics.median(times[False])
    print(f"kernel ready: sandboxed {statistics.median(times[True]):.2f}s, "
          f"unsandboxed {statistics.median(times[False]):.2f}s, overhead {overhead:+.2f}s")
    assert overhead < 0.5


def test_without_a_sandbox_the_kernel_runs_and_says_so_loudly(folder, monkeypatch, capfd):
    monkeypatch.setitem(sandbox._probe_cache, "result", (False, "bwrap missing (test)"))
    monkeypatch.setattr(sandbox, "_warned", set())
    with pytest.warns(RuntimeWarning, match="NOT sandboxed"):
        out, error, km, _, _ = run_in_kernel("print(6 * 7)", folder)
    assert out.strip() == "42" and km.isolation == "unsandboxed: bwrap missing (test)"
    assert "grading kernels are NOT sandboxed (bwrap missing (test))" in capfd.readouterr().err


def test_without_the_sandbox_the_kernel_can_read_the_solutions(folder):
    """What the sandbox prevents: unsandboxed, student code reads solutions/ with the grader's rights."""
    path = os.path.join(REPO, "solutions", F.ASSIGNMENT, F.NOTEBOOK)
    out, _, _, _, _ = run_in_kernel(f"print('BEGIN SOLUTION' in open({path!r}).read())", folder, sandbox=False)
    assert out.strip() == "True"


@needs_sandbox
def test_the_evaluator_has_a_sandbox_of_its_own(tmp_path):
    """The evaluator runs no student code, yet it too sees only Python and an empty private folder:
    not the repository, not the kernel's folders, no network, its own processes only."""
    from autograder.judge import EvaluatorProcess

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    code = f"""
import os, socket
print("repo", sorted(os.listdir({REPO!r})), "tmp", sorted(os.listdir("/tmp")), "cwd", os.listdir("."))
print("pids", sorted(p for p in os.listdir("/proc") if p.isdigit()))
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2)
    print("network reached")
except OSError:
    print("no network")
"""
    evaluator = EvaluatorProcess().start(sandboxed=True)
    try:
        evaluator.send({"op": "trusted", "source": code, "cell": "probe"})
        printed, done = "", None
        while done is None:
            message = evaluator.receive(60)
            assert message is not None, evaluator.log_tail()
            if message["op"] == "output":
                printed += message["text"]
            elif message["op"] == "done":
                done = message
    finally:
        evaluator.close()
        listener.close()
    assert done["ok"], done
    assert "repo ['.venv']" in printed and "cwd []" in printed and "no network" in printed, printed
    assert "pids ['1', '2']" in printed or "pids ['1', '2', '3']" in printed, printed
