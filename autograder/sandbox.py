"""Grading kernels in a bubblewrap sandbox, with resource limits.

nbgrader runs a student's notebook in a kernel with the grader's rights. Here
every grading kernel (configured as Execute.kernel_manager_class) instead runs
as `bwrap ... -- python -I -m ipykernel_launcher`, where it sees only:

- the system directories (/usr and its /bin, /lib symlinks, a few /etc files)
  and the Python installation and virtual environment, all read-only;
- a private copy of the submission's folder without its notebooks (the notebook
  being graded holds the hidden tests), read-write, as its working directory;
- a private folder with the connection file and the ipc sockets the grader
  talks to it through (zmq's ipc transport: the kernel has no network at all);
- a private /tmp (a small tmpfs) holding HOME and matplotlib's config dir;
- its own network, pid, ipc and uts namespaces, no capabilities, and it dies
  with the grader.

It never sees the repository (solutions/), the grading course folder (source,
gradebook, other students) or the rest of the machine. The kernel process also
gets rlimits: address space (a memory bomb becomes a MemoryError), file size
and no core dumps. Its environment is cleared down to an allowlist.

Where bubblewrap is missing or does not work, the kernel runs unsandboxed (with
the same limits and the same private working folder) and this is reported
loudly: a warning on stderr and `sandbox` in the grading summary.
"""
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, List, Unicode

GiB = 1024 ** 3
MiB = 1024 ** 2

# Environment variables a grading kernel may inherit; everything else (tokens, CI secrets) is dropped.
ENV_ALLOW = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "OPENBLAS_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "MPLBACKEND", "NBGRADER_EXECUTION")
ENV_ALLOW_PREFIXES = ("LC_", "TF_", "PYDEVD_", "JPY_")

# /etc files a Python kernel may want; nothing secret (no shadow, no ssh, no credentials).
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "nsswitch.conf", "passwd",
             "group", "hosts", "host.conf", "ssl", "ca-certificates", "alternatives", "mime.types", "fonts",
             "matplotlibrc")

SANDBOX_HOME = "/tmp/home"


class SandboxUnavailable(RuntimeError):
    pass


_probe_cache = {}


def python_roots():
    """The folders a kernel needs read-only: the Python installation and the virtual environment."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(path)
    roots = sorted(os.path.realpath(r) for r in roots if r and os.path.isdir(r))
    # keep only the outermost of nested folders, and never anything that is a system root already
    kept = []
    for root in roots:
        if root in ("/", "/usr", "/usr/local") or root.startswith("/usr/"):
            continue
        if not any(root == k or root.startswith(k + os.sep) for k in kept):
            kept.append(root)
    return kept


def bwrap_command(workdir, rw=(), ro=(), memory_tmp=256 * MiB):
    """The bwrap arguments (up to and including `--`) for a process working in workdir.

    rw: further folders bound read-write at their own path; ro: (source, destination)
    pairs bound read-only.
    """
    bwrap = shutil.which("bwrap")
    if not bwrap:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
    # JPY_PARENT_PID goes: in its pid namespace the kernel's parent is pid 1, which ipykernel
    # takes for "the parent died"; --die-with-parent does that job instead.
    args = [bwrap, "--die-with-parent", "--unshare-all", "--cap-drop", "ALL", "--unsetenv", "JPY_PARENT_PID",
            "--hostname", "grading-sandbox", "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + name
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for name in ETC_FILES:
        args += ["--ro-bind-try", "/etc/" + name, "/etc/" + name]
    # The private /tmp comes before the binds, so a Python or venv that lives under /tmp
    # (a checkout in /tmp, say) is mounted on top of it rather than hidden by it.
    size = ["--size", str(int(memory_tmp))] if memory_tmp and _supports(bwrap, "--size") else []
    args += ["--proc", "/proc", "--dev", "/dev", *size, "--tmpfs", "/tmp", "--dir", SANDBOX_HOME]
    for root in python_roots():
        args += ["--ro-bind", root, root]
    for source, destination in ro:
        args += ["--ro-bind", os.path.realpath(source), destination]
    for path in rw:
        args += ["--bind", path, path]
    args += ["--bind", workdir, workdir, "--chdir", workdir, "--remount-ro", "/"]
    return args + ["--"]


def _supports(bwrap, option):
    """Whether this bwrap has an option (--size came with bubblewrap 0.8)."""
    key = ("help", bwrap)
    if key not in _probe_cache:
        try:
            done = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10)
            _probe_cache[key] = done.stdout + done.stderr
        except (OSError, subprocess.SubprocessError):
            _probe_cache[key] = ""
    return option in _probe_cache[key]


def probe():
    """(True, "bubblewrap") when a sandboxed Python starts here, else (False, why). Cached per process."""
    if "result" in _probe_cache:
        return _probe_cache["result"]
    try:
        with tempfile.TemporaryDirectory(prefix="nbk-probe-") as tmp:
            work, conn = os.path.join(tmp, "work"), os.path.join(tmp, "conn")
            os.makedirs(work)
            os.makedirs(conn)
            cmd = bwrap_command(work, rw=[conn]) + [sys.executable, "-I", "-c",
                                                "import os, socket; print(os.getcwd())"]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            if done.returncode != 0 or done.stdout.strip() != work:
                raise SandboxUnavailable(
                    f"bwrap failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-300:]}")
        result = (True, "bubblewrap")
    except (SandboxUnavailable, OSError, subprocess.SubprocessError) as err:
        result = (False, f"{err}")
    _probe_cache["result"] = result
    return result


_warned = set()


def warn_unsandboxed(reason):
    """A loud warning, once per process and reason: kernels run with the grader's rights."""
    if reason in _warned:
        return
    _warned.add(reason)
    message = (f"WARNING: grading kernels are NOT sandboxed ({reason}). Student code runs with the grader's "
               "rights and can read solutions/ and the gradebook.")
    if not reason.startswith("disabled"):
        message += " Install bubblewrap (apt-get install bubblewrap) and check that `bwrap --version` runs."
    print(message, file=sys.stderr, flush=True)
    warnings.warn(message, RuntimeWarning, stacklevel=2)


def decide(enabled=True):
    """(True, "bubblewrap") when a kernel started now runs sandboxed, else (False, why)."""
    return probe() if enabled else (False, "disabled by SandboxedKernelManager.sandbox=False")


def isolation_label(enabled=True):
    """How a kernel started now is isolated, for the report: "bubblewrap" or "unsandboxed: why"."""
    ok, reason = decide(enabled)
    return "bubblewrap" if ok else f"unsandboxed: {reason}"


def copy_regular_files(src, dst, skip_notebooks=True):
    """Copy the regular files and folders under src to dst; never symlinks, fifos or sockets."""
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        dirnames[:] = [d for d in dirnames if d != ".ipynb_checkpoints"
                       and not os.path.islink(os.path.join(dirpath, d))]
        target = os.path.join(dst, os.path.relpath(dirpath, src))
        os.makedirs(target, exist_ok=True)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if (skip_notebooks and name.endswith(".ipynb")) or not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            shutil.copyfile(path, os.path.join(target, name))


def limits(memory, file_size, ignore_sigint=False):
    """A preexec_fn giving the child rlimits: address space, file size, no core dumps."""
    def preexec():
        if ignore_sigint:
            # An interrupt goes to the whole process group: bwrap must not die of it, only the
            # kernel (which installs its own SIGINT handler while it executes) should see it.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if file_size:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return preexec


def kernel_env(env):
    """The grader's environment reduced to the allowlist, plus a private HOME and config folders."""
    kept = {k: v for k, v in (env or os.environ).items()
            if k in ENV_ALLOW or k.startswith(ENV_ALLOW_PREFIXES)}
    kept.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in kept["PATH"].split(os.pathsep):
        kept["PATH"] = bin_dir + os.pathsep + kept["PATH"]
    return kept


class SandboxedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernels run in a bubblewrap sandbox with rlimits.

    GradingExecute uses it (or set it as `Execute.kernel_manager_class`). The
    launch command is wrapped, nothing else changes: the kernel is an ordinary
    ipykernel, reached over zmq's ipc transport through sockets in a folder
    bound into the sandbox.
    """

    sandbox = Bool(True, help="Run kernels under bubblewrap when it works here.").tag(config=True)
    require_sandbox = Bool(False, help="Refuse to start an unsandboxed kernel.").tag(config=True)
    memory_limit = Integer(6 * GiB, help="RLIMIT_AS of the kernel in bytes (0: none). Measured: a "
                           "TensorFlow 2.21 CPU kernel fitting a small Keras model peaks at 1.5 GiB of address "
                           "space here (MALLOC_ARENA_MAX=2; 2.4 GiB without it); more cores mean more threads, "
                           "hence the margin.").tag(config=True)
    file_size_limit = Integer(512 * MiB, help="RLIMIT_FSIZE of the kernel in bytes (0: none).").tag(config=True)
    tmp_size = Integer(256 * MiB, help="Size of the sandbox's private /tmp (a tmpfs).").tag(config=True)
    read_only_paths = List(Unicode(), help="Further folders bound read-only into the sandbox.").tag(config=True)
    copy_notebooks = Bool(False, help="Also copy *.ipynb into the kernel's working folder. Off: the "
                          "notebook being graded holds the hidden tests.").tag(config=True)

    # What the last start did, for the grading summary: "bubblewrap" or "unsandboxed: why".
    isolation = Unicode("")
    startup_seconds = 0.0

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._private = None

    def _prepare_private(self):
        if self._private is None:
            self._private = tempfile.mkdtemp(prefix="nbk-")
            os.chmod(self._private, 0o700)
            os.makedirs(os.path.join(self._private, "conn"))
            os.makedirs(os.path.join(self._private, "work"))
        return self._private

    async def _async_pre_start_kernel(self, **kw):
        private = self._prepare_private()
        conn = os.path.join(private, "conn")
        self.transport = "ipc"
        self.ip = os.path.join(conn, "k")
        self.connection_file = os.path.join(conn, "kernel.json")
        return await super()._async_pre_start_kernel(**kw)

    def _workdir(self, cwd):
        """A private copy of the notebook's folder (without notebooks) for the kernel to work in."""
        work = os.path.join(self._prepare_private(), "work")
        if cwd and os.path.isdir(cwd) and not os.listdir(work):
            copy_regular_files(cwd, work, skip_notebooks=not self.copy_notebooks)
        return work

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        started = time.perf_counter()
        work = self._workdir(kw.get("cwd"))
        kw["cwd"] = work
        kw["env"] = kernel_env(kw.get("env"))
        kw["env"].update(HOME=SANDBOX_HOME, MPLCONFIGDIR=SANDBOX_HOME + "/.config/matplotlib",
                         IPYTHONDIR=SANDBOX_HOME + "/.ipython", XDG_CACHE_HOME=SANDBOX_HOME + "/.cache",
                         JUPYTER_CONFIG_DIR=SANDBOX_HOME + "/.jupyter", MALLOC_ARENA_MAX="2")
        cmd = list(kernel_cmd)
        # -I: the working folder (student files) is not on sys.path while ipykernel starts, and
        # PYTHON* variables and user site-packages are ignored.
        if cmd and os.path.basename(cmd[0]).startswith("python") and "-I" not in cmd[1:2]:
            cmd.insert(1, "-I")
        ok, reason = decide(self.sandbox)
        self.isolation = isolation_label(self.sandbox)
        if ok:
            cmd = bwrap_command(work, rw=[os.path.join(self._private, "conn")],
                                ro=[(p, os.path.realpath(p)) for p in self.read_only_paths],
                                memory_tmp=self.tmp_size) + cmd
            kw["preexec_fn"] = limits(self.memory_limit, self.file_size_limit, ignore_sigint=True)
        else:
            if self.require_sandbox:
                raise SandboxUnavailable(f"no sandbox for the grading kernel: {reason}")
            kw["env"].update(HOME=os.path.join(self._private, "home"),
                             MPLCONFIGDIR=os.path.join(self._private, "home", ".config", "matplotlib"),
                             IPYTHONDIR=os.path.join(self._private, "home", ".ipython"),
                             XDG_CACHE_HOME=os.path.join(self._private, "home", ".cache"),
                             JUPYTER_CONFIG_DIR=os.path.join(self._private, "home", ".jupyter"))
            os.makedirs(os.path.join(self._private, "home"), exist_ok=True)
            kw["preexec_fn"] = limits(self.memory_limit, self.file_size_limit)
            warn_unsandboxed(reason)
        # The kernel's own stdout/stderr (its log, a crash message) go to a file, not the grader's terminal.
        with open(os.path.join(self._private, "kernel.log"), "ab") as log:
            kw["stdout"] = kw["stderr"] = log
            await super()._async_launch_kernel(cmd, **kw)
        self.startup_seconds = time.perf_counter() - started

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._private:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None

    cleanup_resources = _async_cleanup_resources

    def exit_description(self):
        """Why the kernel process ended, e.g. 'exit code 1' or 'signal SIGSEGV', or '' if unknown."""
        process = getattr(self.provisioner, "process", None)
        code = process.poll() if process is not None else None
        if code is None:
            return ""
        if code < 0 or code > 128:
            num = -code if code < 0 else code - 128
            try:
                return f"signal {signal.Signals(num).name}"
            except ValueError:
                return f"exit code {code}"
        return f"exit code {code}"
