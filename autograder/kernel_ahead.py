"""A grading kernel started ahead of the notebook it will run, so no notebook waits for one to boot.

A worker starts the next notebook's kernel while it finishes the current one (the feedback
page, nbgrader's bookkeeping), or, for its first notebook, while nbgrader prepares it;
GradingExecute takes it instead of starting its own. A kernel started ahead has run no code
and holds no files: it is started by nbclient's own code with the settings a kernel started on
the spot would have, and it gets the same copy of the notebook's folder before the first cell,
before any student code (SandboxedKernelManager.stage). It serves one notebook and is then shut
down, like any grading kernel. One that was started under other settings, or has died, is
discarded and the notebook starts its own.
"""
from jupyter_core.utils import run_sync
from nbgrader import utils
from traitlets import Bool
from traitlets.config import Configurable

from autograder.sandbox import SandboxedKernelManager, kernel_env


class KernelAhead(Configurable):
    enabled = Bool(True, help="Start each notebook's grading kernel ahead, while the worker finishes the "
                   "one before (False: every notebook starts its own kernel).").tag(config=True)


_spare = None   # (key, kernel manager): the kernel started ahead, at most one per process
taken = 0       # notebooks this process ran on a kernel started ahead


def _key(client, kernel_name):
    """What a kernel's start depends on: two notebooks with equal keys get equal kernels."""
    sections = [(k.__name__, repr(sorted(client.config[k.__name__].items())))
                for k in client.kernel_manager_class.mro() if k.__name__ in client.config]
    return (kernel_name, client.kernel_manager_class, tuple(client.extra_arguments), client.ipython_hist_file,
            tuple(sections), tuple(sorted(kernel_env(None).items())))


def start(client, kernel_name):
    """Start a kernel for the next notebook, unless one with these settings is already waiting.

    client: a new GradingExecute on the notebook's configuration; nbclient's own start, through
    it, gives the kernel the settings the notebook's own start would. Any failure here only means
    the notebook starts its own kernel, which then says what fails."""
    global _spare
    client.kernel_name = client.kernel_name or kernel_name
    if not (KernelAhead(config=client.config).enabled and client.kernel_name
            and issubclass(client.kernel_manager_class, SandboxedKernelManager)):
        return discard()
    # The environment nbgrader's autograde gives the kernels it starts (and the key compares).
    with utils.setenv(NBGRADER_EXECUTION="autograde"):
        key = _key(client, client.kernel_name)
        if _spare is not None and _spare[0] == key:
            return
        discard()
        try:
            client.resources = {}
            client.km = client.create_kernel_manager()
            client.start_new_kernel()   # nbclient's own start, with no working folder: files come at take
        except Exception:  # noqa: BLE001 - see the docstring
            if client.km is not None:
                shut_down(client.km)
            return
    _spare = (key, client.km)


def take(client, kernel_name, cwd):
    """The kernel started ahead for this notebook, given the files of cwd, or None (start one then)."""
    global _spare, taken
    if _spare is None:
        return None
    (key, km), _spare = _spare, None
    try:
        if key != _key(client, kernel_name) or not run_sync(km.is_alive)():
            raise LookupError("not this notebook's kernel")
        km.stage(cwd)
    except Exception:  # noqa: BLE001 - any doubt: this notebook starts its own, which fails the same way
        shut_down(km)
        return None
    taken += 1
    return km


def discard():
    """Shut down the kernel waiting, if any (a worker's last job is done, or settings changed)."""
    global _spare
    if _spare is not None:
        (_, km), _spare = _spare, None
        shut_down(km)


def shut_down(km):
    """Stop a kernel started here and remove what it left (its folder, its cgroup)."""
    async def stop():
        if await km.is_alive():
            await km.shutdown_kernel(now=True)   # which also removes its folder and cgroup
        else:
            await km.cleanup_resources()
    try:
        run_sync(stop)()
    except Exception:  # noqa: BLE001 - a kernel already gone leaves nothing to stop
        pass
