"""The grader's side of judging: the evaluator process, and the line to the student's kernel.

GradingExecute (autograder.execute) runs a notebook's ordinary cells in the student's
kernel and hands each test cell to a Judge, which has it run by the evaluator
(autograder.judging.evaluator) in its own sandbox. While a test runs, the evaluator asks
for the student's work; the Judge relays each request to the grader's agent in the
kernel (autograder.judging.agent) and the reply back, as JSON text it never interprets.
The kernel never sees a test; the evaluator never runs student code; the two never
meet. What the test cell shows, and its verdict, are the evaluator's.
"""
import asyncio
import json
import os
import queue
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from jupyter_core.utils import run_sync
from traitlets import Integer
from traitlets.config import LoggingConfigurable

from autograder import sandbox
from autograder.judging import wire
from autograder.outputs import error_output, stream

JUDGING = os.path.join(os.path.dirname(os.path.abspath(__file__)), "judging")
SANDBOX_JUDGING = "/opt/grader/judging"
AGENT_MODULES = ("wire", "models", "agent")   # what the kernel's agent is made of, in import order

_INSTALL = """
def _install(sources):
    import sys, types
    package = types.ModuleType("_grader")
    package.__path__ = []
    sys.modules["_grader"] = package
    for name, source in sources:
        module = types.ModuleType("_grader." + name)
        module.__package__ = "_grader"
        sys.modules[module.__name__] = module
        exec(compile(source, "<grader " + name + ">", "exec"), module.__dict__)
        setattr(package, name, module)
_install(%s)
del _install
"""


class KernelLink:
    """The grader's line to its agent in the student's kernel.

    While a test runs, the agent serves the test's requests over a Unix socket in the
    kernel's connection folder: one silent execute request (nothing enters the kernel's
    history) starts a session, each request is a line and each answer a line, and the
    session ends with the test. What the student's code prints during a call comes back
    with the answer. A request that runs out of time interrupts the kernel. A kernel that
    dies, does not answer an interrupt, or floods output while serving a test is left
    alone from then on: `problem` says why, and every later request fails with it.
    """

    def __init__(self, client, manager, flood_chars, describe_death=None):
        self.kc, self.km, self.flood_chars = client, manager, flood_chars
        self.describe_death = describe_death or (lambda: "")
        self.folder = os.path.dirname(os.path.abspath(manager.connection_file))
        self.problem = ""
        self.session = None   # the socket, connection, execute request and unread bytes while a test runs
        self._sessions = self._requests = 0

    def install(self, timeout, first=""):
        """Install the agent, after `first`, trusted code the kernel must run before any other."""
        sources = []
        for name in AGENT_MODULES:
            with open(os.path.join(JUDGING, name + ".py")) as f:
                sources.append((name, f.read()))
        msg_id = self.kc.execute(first + _INSTALL % repr(sources), silent=True, store_history=False,
                                 allow_stdin=False)
        reply, _ = run_sync(self._finish)(msg_id, timeout)
        return "" if reply is not None and reply["content"].get("status") == "ok" else "no reply"

    # -- a session per test

    def ask(self, kind, payload, timeout):
        """(answer text, printed output, problem) of one request to the agent."""
        if self.problem:
            return None, [], self.problem
        deadline = time.monotonic() + timeout
        if self.session is None:
            problem = self._open(deadline)
            if problem:
                return None, [], problem
        self._requests += 1
        request_id = self._requests
        try:
            self.session["conn"].settimeout(max(0.1, deadline - time.monotonic()))
            self.session["conn"].sendall(json.dumps({"id": request_id, "kind": kind, "payload": payload}).encode()
                                         + b"\n")
        except socket.timeout:
            return None, [], self._timed_out(request_id, timeout)
        except OSError:
            return None, [], self._lost()
        answer = self._read(request_id, deadline)
        if answer is _TIMEOUT:
            return None, [], self._timed_out(request_id, timeout)
        if answer is None:
            return None, [], self.problem or self._lost()
        printed = answer.get("printed")
        printed = [printed] if type(printed) is str and printed else []
        if answer.get("interrupted"):
            return None, printed, "timeout"
        text = answer.get("answer")
        return (text if type(text) is str else None), printed, ""

    def end(self, timeout=10):
        """End the test's session; what the kernel displayed meanwhile (outside the calls' printing)."""
        if self.session is None:
            return []
        session, self.session = self.session, None
        try:
            session["conn"].sendall(json.dumps({"id": 0, "kind": "end"}).encode() + b"\n")
        except OSError:
            pass
        for sock in (session["conn"], session["listener"]):
            sock.close()
        os.unlink(session["path"])
        if self.problem:
            return []
        reply, printed = run_sync(self._finish)(session["msg_id"], timeout)
        if reply is None and not self.problem:
            self.problem = "the kernel did not finish serving a test"
        return printed

    def _open(self, deadline):
        self._sessions += 1
        path = os.path.join(self.folder, f"agent-{self._sessions}.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        msg_id = self.kc.execute(f"__import__('_grader.agent', fromlist=['serve']).serve_socket({path!r})",
                                 silent=True, store_history=False, allow_stdin=False)
        listener.settimeout(max(0.1, min(30.0, deadline - time.monotonic())))
        try:
            conn, _ = listener.accept()
        except OSError:
            listener.close()
            os.unlink(path)
            run_sync(self._finish)(msg_id, 5)
            return "the grader's helper in your kernel did not answer (did your code change it?)"
        self.session = {"listener": listener, "conn": conn, "msg_id": msg_id, "buffer": b"", "path": path}
        return ""

    def _read(self, request_id, deadline):
        """The answer to request_id (a dict), _TIMEOUT, or None when the kernel is lost."""
        session = self.session
        while True:
            line, _, rest = session["buffer"].partition(b"\n")
            if _:
                session["buffer"] = rest
                try:
                    answer = json.loads(line)
                except ValueError:
                    answer = None
                if type(answer) is dict and answer.get("id") == request_id:
                    return answer
                continue   # a stray line (an answer to an earlier request): not this one
            if len(session["buffer"]) > 2 * wire.MAX_BYTES + 2 ** 20:
                self.problem = f"your kernel sent more than {2 * wire.MAX_BYTES // 2 ** 20} MB in one answer"
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return _TIMEOUT
            readable, _, _ = select.select([session["conn"]], [], [], min(left, 1.0))
            if not readable:
                continue
            try:
                chunk = session["conn"].recv(1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                return None
            session["buffer"] += chunk

    def _lost(self):
        deadline = time.monotonic() + 3   # a kernel that closed the line may take a moment to be reaped
        alive = run_sync(self.km.is_alive)()
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            alive = run_sync(self.km.is_alive)()
        self.problem = (f"the kernel died while running your code{self.describe_death()}" if not alive
                        else "the kernel stopped serving the tests")
        return self.problem

    def _timed_out(self, request_id, timeout, grace=10):
        """Interrupt the kernel: 'timeout' if it then answers, else the kernel is given up."""
        run_sync(self.km.interrupt_kernel)()
        answer = self._read(request_id, time.monotonic() + grace)
        if isinstance(answer, dict):
            return "timeout"
        if answer is None:
            return self.problem or self._lost()
        self.problem = f"the kernel did not answer an interrupt after a test ran out of time ({timeout} s)"
        return self.problem

    async def _finish(self, msg_id, timeout):
        """(shell reply or None, text the kernel published) of a silent execute request, draining its output."""
        kc, printed, size = self.kc, [], 0

        async def outputs():
            nonlocal size
            while True:
                msg = await kc.iopub_channel.get_msg(timeout=None)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "status" and content.get("execution_state") == "idle":
                    return
                if kind == "stream":
                    text = str(content.get("text", ""))
                elif kind in ("display_data", "execute_result", "update_display_data"):
                    data = content.get("data", {})
                    size += sum(len(str(v)) for v in data.values()) + len(str(content.get("metadata", "")))
                    text = str(data.get("text/plain", "")) + "\n"
                elif kind == "error":
                    text = f"{content.get('ename', '')}: {content.get('evalue', '')}\n"
                else:
                    continue
                size += len(text)
                if size > self.flood_chars:
                    raise _Flood()
                printed.append(text)

        async def answer():
            while True:
                msg = await kc.shell_channel.get_msg(timeout=None)
                if msg["parent_header"].get("msg_id") == msg_id:
                    return msg

        tasks = [asyncio.ensure_future(outputs()), asyncio.ensure_future(answer())]
        try:
            done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.ALL_COMPLETED)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()
            return (tasks[1].result() if tasks[1] in done else None), printed
        except _Flood:
            self.problem = f"your code printed more than {self.flood_chars:,} characters while a test ran"
            return None, printed
        finally:
            for task in tasks:
                task.cancel()


_TIMEOUT = object()


class _Flood(Exception):
    pass


class EvaluatorUnavailable(RuntimeError):
    pass


class EvaluatorProcess(LoggingConfigurable):
    """The evaluator of one submission: its own process, in its own sandbox when the
    kernel has one (same policy, nothing shared with the kernel)."""

    memory_limit = Integer(6 * 1024 ** 3, help="RLIMIT_AS of the evaluator in bytes (0: none).").tag(config=True)
    startup_timeout = Integer(120, help="Seconds the evaluator may take to run the trusted cells before "
                              "a test.").tag(config=True)

    def start(self, sandboxed):
        self.sandboxed = sandboxed
        self._private = tempfile.mkdtemp(prefix="evaluator-")
        os.chmod(self._private, 0o700)
        work = os.path.join(self._private, "work")
        os.makedirs(work)
        env = sandbox.kernel_env(None)
        home = sandbox.SANDBOX_HOME if sandboxed else os.path.join(self._private, "home")
        env.update(HOME=home, MPLCONFIGDIR=home + "/.config/matplotlib", MPLBACKEND="Agg",
                   XDG_CACHE_HOME=home + "/.cache", MALLOC_ARENA_MAX="2", TF_CPP_MIN_LOG_LEVEL="3")
        root = SANDBOX_JUDGING if sandboxed else JUDGING
        program = (f"import sys; sys.path.insert(0, {os.path.dirname(root)!r}); "
                   "from judging.evaluator import main; main()")
        cmd = [sandbox.PYTHON, "-I", "-c", program]
        limit = sandbox.limit_settings(self.config)   # the kernel's limits, as configured
        if sandboxed:
            cmd = sandbox.bwrap_command(work, ro=[(JUDGING, SANDBOX_JUDGING)], memory_tmp=limit["tmp_size"],
                                        shm_size=limit["shm_size"], work_size=limit["work_size"]) + cmd
        else:
            os.makedirs(home, exist_ok=True)
        cgroup, nproc = sandbox.process_limits(limit["pids_limit"])
        self._log = open(os.path.join(self._private, "evaluator.log"), "ab")
        self.process = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, cwd=work, env=env,
            start_new_session=True, preexec_fn=sandbox.limits(
                self.memory_limit, 512 * 1024 ** 2, ignore_sigint=sandboxed, cpu_time=limit["cpu_time_limit"],
                nproc=nproc, cgroup=cgroup))
        sandbox.release_when_done(self.process, cgroup)
        self._inbox = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._next_id = 0
        self.gone = ""
        return self

    def _read(self):
        for line in self.process.stdout:
            try:
                self._inbox.put(json.loads(line))
            except ValueError:
                self._inbox.put({"op": "garbled"})
        self._inbox.put(None)

    def send(self, message):
        self._next_id += 1
        message = dict(message, id=self._next_id)
        try:
            self.process.stdin.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            self._set_gone("the evaluator stopped")
        return self._next_id

    def receive(self, timeout):
        """The next message, None when timeout passes first; EvaluatorUnavailable once it ended."""
        if self.gone:
            raise EvaluatorUnavailable(self.gone)
        try:
            message = self._inbox.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if message is None:
            code = self.process.wait()
            self._set_gone(f"the evaluator stopped ({describe_exit(code)})")
            raise EvaluatorUnavailable(self.gone)
        return message

    def _set_gone(self, why):
        self.gone = self.gone or why

    def interrupt(self):
        try:
            os.killpg(self.process.pid, signal.SIGINT)
        except ProcessLookupError:
            pass

    def log_tail(self, chars=2000):
        try:
            with open(os.path.join(self._private, "evaluator.log"), "rb") as f:
                return f.read()[-chars:].decode("utf-8", "replace")
        except OSError:
            return ""

    def close(self):
        process = getattr(self, "process", None)
        if process is not None:
            try:
                process.stdin.close()
            except OSError:
                pass
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
            self._log.close()
        if getattr(self, "_private", None):
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None


def evaluator_sandboxed(config):
    """Whether the evaluator runs sandboxed: whenever the kernel does, by the same policy. A sandbox
    that is wanted (sandbox, the default) and cannot start raises SandboxUnavailable unless
    require_sandbox was set False; only sandbox=False, the explicit opt-out, runs it unsandboxed."""
    settings = sandbox.limit_settings(config)
    ok, reason = sandbox.decide(settings["sandbox"])
    if not ok and settings["sandbox"] and settings["require_sandbox"]:
        raise sandbox.SandboxUnavailable(sandbox.unavailable_message(reason))
    return ok


_spare = None   # an evaluator started ahead of the notebook it will serve (see prestart)


def prestart(config, sandboxed, modules=()):
    """Start the next notebook's evaluator now, importing modules, while nbgrader prepares the
    notebook: its start-up then runs beside the grader's own work instead of the kernel's."""
    global _spare
    discard_spare()
    _spare = EvaluatorProcess(config=config).start(sandboxed)
    _spare.send({"op": "preload", "modules": list(modules)})
    return _spare


def take_evaluator(parent, sandboxed):
    """The evaluator started ahead if it fits, else a new one; either serves this notebook only."""
    global _spare
    spare, _spare = _spare, None
    if spare is not None and spare.sandboxed == sandboxed and not spare.gone and spare.process.poll() is None:
        return spare
    if spare is not None:
        spare.close()
    return EvaluatorProcess(parent=parent).start(sandboxed)


def discard_spare():
    global _spare
    if _spare is not None:
        _spare.close()
        _spare = None


def describe_exit(code):
    """Why a process ended, from its exit code: 'signal SIGKILL' or 'exit code 1'."""
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"exit code {code}"


class Judge:
    """Runs one notebook's test cells in its evaluator, relaying what they need from the kernel."""

    def __init__(self, evaluator, link, max_output_chars):
        self.evaluator, self.link, self.max_output_chars = evaluator, link, max_output_chars
        self.pending = []    # ids of trusted cells sent and not yet done
        self.events = []     # (cell, what) the report lists: refusals, kernel and evaluator problems

    def trust(self, source, cell_id):
        """Run a trusted cell in the evaluator (its reply is read before the next test)."""
        self.pending.append((self.evaluator.send({"op": "trusted", "source": source, "cell": cell_id}), cell_id))

    def _settle(self):
        deadline = time.monotonic() + self.evaluator.startup_timeout
        while self.pending:
            message = self.evaluator.receive(deadline - time.monotonic())
            if message is None:
                raise EvaluatorUnavailable(
                    f"the evaluator took over {self.evaluator.startup_timeout} s for the course's own cells")
            if message.get("op") == "done":
                _, cell_id = self.pending.pop(0)
                if not message.get("ok"):
                    error = message.get("error") or {}
                    self.events.append((cell_id, f"the course's cell {cell_id} failed in the evaluator: "
                                                 f"{error.get('ename')}: {error.get('evalue')}"))

    def test(self, cell_id, source, timeout):
        """The outputs of a test cell run in the evaluator; an error output means it failed."""
        outputs = _Outputs(self.max_output_chars)
        try:
            self._settle()
            message_id = self.evaluator.send({"op": "test", "source": source, "cell": cell_id})
            deadline = time.monotonic() + (timeout or 10 ** 6)
            while True:
                # A message on its way at the deadline (a relayed call can end late) gets 2 s more.
                message = self.evaluator.receive(max(0.0, deadline + 2.0 - time.monotonic()))
                if message is None:
                    return outputs.finish(self._out_of_time(timeout))
                op = message.get("op")
                if op == "output":
                    outputs.add(str(message.get("text", "")))
                elif op == "kernel":
                    self._relay(message, deadline, outputs)
                elif op == "done" and message.get("id") == message_id:
                    for text in self.link.end():
                        outputs.add(text)
                    self.events += [(cell_id, str(e)[:500]) for e in message.get("events") or []]
                    error = message.get("error")
                    return outputs.finish(error_output(str(error["ename"]), str(error["evalue"]),
                                                       [str(t) for t in error["traceback"]]) if error else None)
        except EvaluatorUnavailable as err:
            self.events.append((cell_id, str(err)))
            return outputs.finish(error_output("GraderError", f"this test could not be judged: {err}. "
                                                              "Tell your instructor."))
        finally:
            self.link.end()

    def _relay(self, message, deadline, outputs):
        timeout = max(1, deadline - time.monotonic())
        data, printed, problem = self.link.ask(str(message.get("kind")), str(message.get("payload")), timeout)
        for text in printed:
            outputs.add(text)
        if problem == "timeout":
            reply = {"op": "reply", "ok": False, "problem": "timeout",
                     "message": f"the test ran out of time ({int(timeout)} s) while your code was running"}
        elif problem:
            reply = {"op": "reply", "ok": False, "problem": "kernel", "message": problem}
        elif data is None:
            reply = {"op": "reply", "ok": False, "problem": "kernel", "message": "your kernel sent no answer"}
        elif len(data) > wire.MAX_BYTES:
            reply = {"op": "reply", "ok": False, "problem": "refused",
                     "message": f"your kernel's answer is {len(data) / 2 ** 20:.0f} MB, over the size limit"}
        else:
            reply = {"op": "reply", "ok": True, "data": data}
        self.evaluator.send(reply)

    def _out_of_time(self, timeout):
        """The evaluator itself ran past the test's time: interrupt it; give it up if it does not answer."""
        self.evaluator.interrupt()
        grace = time.monotonic() + 10
        while time.monotonic() < grace:
            message = self.evaluator.receive(grace - time.monotonic())
            if message is not None and message.get("op") == "done":
                break
        else:
            self.evaluator.close()
            self.evaluator._set_gone("the evaluator did not answer an interrupt")
        return error_output("CellTimeoutError", f"the test ran out of time ({timeout} s)")


class _Outputs:
    """A test cell's outputs: text capped at max_chars, then the verdict's error if it failed."""

    def __init__(self, max_chars):
        self.max_chars, self.used, self.texts, self.dropped = max_chars, 0, [], False

    def add(self, text):
        keep = max(0, self.max_chars - self.used)
        self.texts.append(text[:keep])
        self.used += len(text)
        self.dropped = self.dropped or len(text) > keep

    def finish(self, error):
        outputs = [stream("".join(self.texts))] if any(self.texts) else []
        if self.dropped:
            outputs.append(stream(f"\n... output truncated by the grader (over {self.max_chars} characters) ...\n"))
        if error is not None:
            outputs.append(error)
        return outputs
