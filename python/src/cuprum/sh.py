"""Typed commands (``sh.make`` → SafeCmd), pipelines (``|``) and running
them (``run`` / ``run_sync``) on libcuprum."""

from __future__ import annotations

import asyncio
import codecs
import dataclasses as dc
import inspect
import math
import sys
import typing as typ
import warnings

from cuprum import _engine, _native
from cuprum.catalogue import DEFAULT_CATALOGUE, ProgramCatalogue, ProjectSettings, native_name
from cuprum.context import current_context, observe
from cuprum.errors import from_native
from cuprum.events import make_event
from cuprum.program import Program

if typ.TYPE_CHECKING:
    import collections.abc as cabc
    from pathlib import Path

__all__ = [
    "CommandResult", "ExecutionContext", "IOOptions", "Pipeline",
    "PipelineResult", "RunOutputOptions", "SafeCmd", "SafeCmdBuilder",
    "StdinInput", "TimeoutExpired", "build_argv", "make", "observe",
    "stream_backend",
]

_ArgValue = typ.Any
_DEFAULT_CANCEL_GRACE = 0.5
_PHASES = {"plan": "plan", "start": "start", "stdout_line": "stdout",
           "stderr_line": "stderr", "stdin": "stdin",
           "stdin_error": "stdin_error", "exit": "exit"}


def _stringify(value: _ArgValue) -> str:
    if value is None:
        msg = "None is not a valid argument; skip or substitute it"
        raise TypeError(msg)
    return str(value)


def build_argv(*args: _ArgValue, **kwargs: _ArgValue) -> tuple[str, ...]:
    """Positional arguments with ``str()``, then keyword arguments as
    ``--flag=value`` (underscores become hyphens); None is a TypeError."""
    argv = [_stringify(a) for a in args]
    argv += [f"--{k.replace('_', '-')}={_stringify(v)}" for k, v in kwargs.items()]
    return tuple(argv)


@dc.dataclass(frozen=True, slots=True)
class CommandResult:
    """The outcome of one command (or one pipeline stage)."""

    program: Program
    argv: tuple[str, ...]
    exit_code: int
    pid: int
    stdout: str | None
    stderr: str | None

    @property
    def ok(self) -> bool:
        """Exited with status 0."""
        return self.exit_code == 0


@dc.dataclass(frozen=True, slots=True)
class PipelineResult:
    """The outcome of a pipeline: per-stage results, the first failure."""

    stages: tuple[CommandResult, ...]
    failure_index: int | None = None

    @property
    def final(self) -> CommandResult:
        """The last stage's result."""
        return self.stages[-1]

    @property
    def failure(self) -> CommandResult | None:
        """The stage that failed first, or None."""
        return None if self.failure_index is None else self.stages[self.failure_index]

    @property
    def ok(self) -> bool:
        """No stage failed."""
        return self.failure_index is None

    @property
    def stdout(self) -> str | None:
        """The final stage's captured stdout."""
        return self.final.stdout


@dc.dataclass(frozen=True, slots=True)
class ExecutionContext:
    """Per-call execution settings (env overlay, cwd, grace, timeout, echo
    sinks, decoding, tags)."""

    env: cabc.Mapping[str, str] | None = None
    cwd: str | Path | None = None
    cancel_grace: float = _DEFAULT_CANCEL_GRACE
    timeout: float | None = None
    stdout_sink: typ.IO[str] | None = None
    stderr_sink: typ.IO[str] | None = None
    encoding: str = "utf-8"
    errors: str = "replace"
    tags: cabc.Mapping[str, object] | None = None
    stream_backend: str | None = None
    """libcuprum's stream backend for this run: "auto" (default: the
    CUPRUM_STREAM_BACKEND environment variable, else the best available),
    "splice" or "readwrite"."""


def stream_backend(name: str | None = None) -> str:
    """The concrete backend a run asking for ``name`` (default "auto")
    would use: "splice" or "readwrite". ValueError for an unknown or
    unavailable backend."""
    try:
        return _native.stream_backend(name or "auto")[1]
    except _native.Error as exc:
        raise ValueError(exc.args[2]) from None


def _backend_value(name: str | None) -> int:
    if not name:
        return 0
    try:
        return _native.stream_backend(name)[0]
    except _native.Error as exc:
        raise ValueError(exc.args[2]) from None


class TimeoutExpired(TimeoutError):  # noqa: N818 (subprocess's name)
    """The run exceeded its timeout; it was terminated and reaped. The
    partial output is on ``output`` and ``stderr``."""

    def __init__(self, cmd: tuple[str, ...], timeout: float,
                 output: str | None = None, stderr: str | None = None) -> None:
        super().__init__(f"command {cmd!r} timed out after {timeout} seconds")
        self.cmd = cmd
        self.timeout = timeout
        self.output = output
        self.stderr = stderr

    @property
    def stdout(self) -> str | None:
        """Alias of ``output``."""
        return self.output


@dc.dataclass(frozen=True, slots=True)
class StdinInput:
    """Bytes for the command's stdin: ``text`` (encoded with the context's
    encoding) or ``data`` (as is), not both."""

    text: str | None = None
    data: bytes | None = None

    def __post_init__(self) -> None:
        if self.text is not None and self.data is not None:
            msg = "StdinInput takes text or data, not both"
            raise ValueError(msg)

    def resolve(self, ctx: ExecutionContext) -> bytes | None:
        """The bytes to feed."""
        if self.text is not None:
            return self.text.encode(ctx.encoding, ctx.errors)
        return self.data


@dc.dataclass(frozen=True, slots=True)
class RunOutputOptions:
    """Capture output into the result (default) and/or echo it."""

    capture: bool = True
    echo: bool = False


@dc.dataclass(frozen=True, slots=True)
class IOOptions(RunOutputOptions):
    """Deprecated alias of RunOutputOptions: the same fields, a
    DeprecationWarning on construction. Accepted wherever ``output`` is."""

    def __post_init__(self) -> None:
        # A dataclass of its own: the base's generated __init__ knows of no
        # __post_init__, so without the decorator this never ran.
        warnings.warn("IOOptions is deprecated; use RunOutputOptions instead",
                      DeprecationWarning, stacklevel=3)


_LEGACY_OUTPUT_FLAGS = frozenset({"capture", "echo"})


def _pipeline_output(output: RunOutputOptions | None,
                     flags: dict[str, typ.Any]) -> RunOutputOptions | None:
    """The output options of a Pipeline.run/run_sync call that may carry
    the deprecated flat ``capture``/``echo`` keywords: any other keyword is
    a TypeError (as for any function), either flag with ``output`` a
    ValueError (the intent is ambiguous), either flag alone a
    DeprecationWarning pointing at the caller."""
    unknown = sorted(set(flags) - _LEGACY_OUTPUT_FLAGS)
    if unknown:
        msg = ("Pipeline.run/run_sync got unexpected keyword arguments: "
               + ", ".join(unknown))
        raise TypeError(msg)
    if not flags:
        return output
    if output is not None:
        msg = ("Pass either 'output' or the deprecated 'capture'/'echo' "
               "flags, not both")
        raise ValueError(msg)
    warnings.warn("Pipeline.run/run_sync 'capture' and 'echo' keyword "
                  "arguments are deprecated; pass "
                  "output=RunOutputOptions(...) instead",
                  DeprecationWarning, stacklevel=3)
    return RunOutputOptions(capture=bool(flags.get("capture", True)),
                            echo=bool(flags.get("echo", False)))


# ------------------------------------------------------------------ runs

class _Observer:
    """Turns the native event tuples of one run into ExecEvents for the
    context's observers. A hook that raises makes the native side cancel
    the run (nothing is left running) and the run raise that exception."""

    def __init__(self, hooks: tuple[typ.Callable[..., typ.Any], ...],
                 cmds: tuple[SafeCmd, ...], tags: dict[str, object]) -> None:
        self.hooks = hooks
        self.cmds = cmds
        self.tags = tags
        self.plans: dict[int, tuple[tuple[str, ...], dict[str, str] | None, dict[str, object]]] = {}
        self.pending: list[typ.Any] = []

    def __call__(self, ev: tuple[typ.Any, ...]) -> typ.Any:
        (phase, exec_id, _prog, argv, cwd, env, pid, wall, line, exit_code,
         duration_ns, tags, stage, n_stages, nbytes, _error, sig, project) = ev
        name = _PHASES.get(phase)
        if name is None:
            return None
        if argv is not None:
            cmd = self.cmds[stage]
            tagmap: dict[str, object] = {"project": project or cmd.project.name}
            if n_stages > 1:
                tagmap.update(pipeline_stage_index=stage, pipeline_stages=n_stages)
            tagmap.update(dict(tags or ()))
            tagmap.update(self.tags)
            self.plans[exec_id] = ((cmd.program, *argv[1:]),
                                   dict(env) if env else None, tagmap)
        argv_t, env_m, tagmap = self.plans[exec_id]
        is_exit = name == "exit"
        event = make_event(
            name, self.cmds[stage].program, argv_t, cwd, env_m, pid or None,
            wall, line, (-sig if sig else exit_code) if is_exit else None,
            duration_ns / 1e9 if is_exit else None, tagmap, None,
            nbytes if name in ("stdin", "stdin_error") else None, None, None,
            str(exec_id))
        for hook in self.hooks:
            r = hook(event)
            if r is not None and inspect.isawaitable(r):
                self.pending.append(r)
        return event  # the native side copies a start event for each line


class _Echo:
    """An echo sink: bytes from the native side, decoded incrementally (a
    character split across reads stays whole) onto a text stream."""

    def __init__(self, stream: typ.IO[str] | None, fallback: str,
                 encoding: str, errors: str) -> None:
        self.stream = stream
        self.fallback = fallback
        self.dec = codecs.getincrementaldecoder(encoding)(errors)

    def __call__(self, data: bytes) -> None:
        stream = self.stream or getattr(sys, self.fallback)
        stream.write(self.dec.decode(data))
        stream.flush()


# Longer waits are clamped to libcuprum's bound (one year, its largest
# timeout_ms/grace_ms) rather than refused: 1e300 s means "no hurry".
_MAX_MS = 365 * 24 * 3600 * 1000


def _seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = f"{name} must be a number of seconds, not {type(value).__name__}"
        raise TypeError(msg)
    if math.isnan(value):
        msg = f"{name} must be a number of seconds, not NaN"
        raise ValueError(msg)
    return value


def _timeout_ms(timeout: float | None) -> int:
    if timeout is None:
        return 0
    timeout = _seconds("timeout", timeout)
    if timeout <= 0:
        return 1  # an elapsed deadline: terminate at once
    if math.isinf(timeout):
        return 0  # no limit, as subprocess treats it
    return min(_MAX_MS, max(1, math.ceil(timeout * 1000)))


def _grace_ms(grace: float) -> int:
    grace = _seconds("cancel_grace", grace)
    return -1 if grace <= 0 else min(_MAX_MS, max(1, round(grace * 1000)))


class _Run:
    """One run of a command or pipeline: context, hooks, native options."""

    def __init__(self, cmds: tuple[SafeCmd, ...], output: RunOutputOptions | None,
                 timeout: float | None, context: ExecutionContext | None,
                 stdin: StdinInput | None) -> None:
        self.cmds = cmds
        self.output = output or RunOutputOptions()
        self.ctx = context or ExecutionContext()
        self.scope = current_context()
        for cmd in cmds:
            self.scope.check_allowed(cmd.program)
        self.timeout = (timeout if timeout is not None else
                        self.ctx.timeout if self.ctx.timeout is not None else
                        self.scope.timeout)
        self.stdin = stdin.resolve(self.ctx) if stdin else None
        self.observer = None
        if self.scope.observe_hooks:
            self.observer = _Observer(self.scope.observe_hooks, cmds,
                                      dict(self.ctx.tags or {}))

    def before(self) -> None:
        for cmd in self.cmds:
            for hook in self.scope.before_hooks:
                hook(cmd)

    def native_options(self) -> dict[str, typ.Any]:
        """The native options a start of this run shares with a batch of
        such runs (``_native.start`` and ``_native.batch_start``)."""
        ctx = self.ctx
        env = {**self.scope.env_overlay, **(ctx.env or {})}
        return {"env": [(k, str(v)) for k, v in env.items()] or None,
                "cwd": None if ctx.cwd is None else str(ctx.cwd),
                "timeout_ms": _timeout_ms(self.timeout),
                "grace_ms": _grace_ms(ctx.cancel_grace),
                "tags": [(k, str(v)) for k, v in (ctx.tags or {}).items()] or None,
                "backend": _backend_value(ctx.stream_backend)}

    def start(self, loop: _native.Loop) -> _native.Task:
        ctx, out = self.ctx, self.output
        echo = [None, None]
        if out.echo:
            echo = [_Echo(ctx.stdout_sink, "stdout", ctx.encoding, ctx.errors),
                    _Echo(ctx.stderr_sink, "stderr", ctx.encoding, ctx.errors)]
        stages = [(c.catalogue._native, native_name(c.program)[0], c.argv)
                  for c in self.cmds]
        try:
            return _native.start(
                loop, stages, capture=out.capture, echo=out.echo,
                stdin=self.stdin, observer=self.observer, out_sink=echo[0],
                err_sink=echo[1], **self.native_options(),
                line_hooks=self.observer.hooks if self.observer else None)
        except _native.Error as exc:
            raise from_native(exc) from None

    def _text(self, text: str, captured: bool) -> str | None:
        return text if captured else None

    def _stage(self, i: int, r: dict[str, typ.Any], has_out: bool) -> CommandResult:
        cmd = self.cmds[i]
        cap = self.output.capture
        return CommandResult(
            program=cmd.program, argv=cmd.argv_with_program,
            exit_code=r["exit_code"] if r["term_signal"] == 0 else -r["term_signal"],
            pid=r["pid"], stdout=self._text(r["stdout"], cap and has_out),
            stderr=self._text(r["stderr"], cap))

    def _pending(self, task: _native.Task) -> list[typ.Any]:
        """Awaitables the observers returned for this run."""
        if self.observer is None:
            return []
        return self.observer.pending + [r for r in task.pending()
                                        if inspect.isawaitable(r)]

    def finish(self, task: _native.Task) -> typ.Any:
        exc = task.exception()
        if exc is not None:
            raise exc
        raw = task.result(self.ctx.encoding, self.ctx.errors)
        if "stages" in raw:
            n = len(raw["stages"])
            stages = tuple(self._stage(i, s, i == n - 1)
                           for i, s in enumerate(raw["stages"]))
            fail = raw["fail_index"]
            result: typ.Any = PipelineResult(stages, None if fail < 0 else fail)
            final, err = stages[-1], "\n".join(s.stderr or "" for s in stages)
        else:
            result = final = self._stage(0, raw, True)
            err = final.stderr
        if raw["timed_out"]:
            argv = self.cmds[-1].argv_with_program
            raise TimeoutExpired(argv, typ.cast("float", self.timeout),
                                 output=final.stdout,
                                 stderr=err if self.output.capture else None)
        return result

    def after(self, result: typ.Any) -> None:
        for cmd in self.cmds:
            for hook in self.scope.after_hooks:
                hook(cmd, result)

    async def run_async(self) -> typ.Any:
        self.before()
        task = self.start(_engine.async_loop())
        await _engine.wait_async(task)
        pending = self._pending(task)
        if pending:
            await asyncio.gather(*pending)
        result = self.finish(task)
        self.after(result)
        return result

    def run_sync(self) -> typ.Any:
        self.before()
        loop = _engine.sync_loop()
        task = self.start(loop)
        _engine.wait_sync(loop, task)
        for aw in self._pending(task):
            asyncio.run(_await(aw))
        result = self.finish(task)
        self.after(result)
        return result


async def _await(aw: typ.Awaitable[typ.Any]) -> typ.Any:
    return await aw


# -------------------------------------------------------- commands, pipes

@dc.dataclass(frozen=True, slots=True)
class SafeCmd:
    """A catalogued program and its arguments: nothing here is a shell."""

    program: Program
    argv: tuple[str, ...]
    project: ProjectSettings
    catalogue: ProgramCatalogue = dc.field(default=DEFAULT_CATALOGUE, repr=False,
                                           compare=False)

    @property
    def argv_with_program(self) -> tuple[str, ...]:
        """The full argv, program first."""
        return (self.program, *self.argv)

    def __or__(self, other: SafeCmd | Pipeline) -> Pipeline:
        return Pipeline.concat(self, other)

    async def run(self, *, output: RunOutputOptions | None = None,
                  timeout: float | None = None,  # noqa: ASYNC109
                  context: ExecutionContext | None = None,
                  stdin: StdinInput | None = None) -> CommandResult:
        """Run on the running asyncio loop."""
        return await _Run((self,), output, timeout, context, stdin).run_async()

    def run_sync(self, *, output: RunOutputOptions | None = None,
                 timeout: float | None = None,
                 context: ExecutionContext | None = None,
                 stdin: StdinInput | None = None) -> CommandResult:
        """Run to completion on this thread."""
        return _Run((self,), output, timeout, context, stdin).run_sync()


@dc.dataclass(frozen=True, slots=True)
class Pipeline:
    """Commands joined stdout → stdin by kernel pipes, child to child."""

    parts: tuple[SafeCmd, ...]

    def __post_init__(self) -> None:
        if len(self.parts) < 2:
            msg = "a pipeline needs at least two commands"
            raise ValueError(msg)

    def __or__(self, other: SafeCmd | Pipeline) -> Pipeline:
        return Pipeline.concat(self, other)

    @classmethod
    def concat(cls, left: SafeCmd | Pipeline, right: SafeCmd | Pipeline) -> Pipeline:
        """``left | right``."""
        lp = left.parts if isinstance(left, Pipeline) else (left,)
        rp = right.parts if isinstance(right, Pipeline) else (right,)
        return cls((*lp, *rp))

    async def run(self, *, output: RunOutputOptions | None = None,
                  timeout: float | None = None,  # noqa: ASYNC109
                  context: ExecutionContext | None = None,
                  stdin: StdinInput | None = None,
                  **deprecated_flags: bool) -> PipelineResult:
        """Run on the running asyncio loop. ``capture=``/``echo=`` are the
        deprecated spelling of ``output=RunOutputOptions(...)``
        (DeprecationWarning; ValueError together with ``output``)."""
        out = _pipeline_output(output, deprecated_flags)
        return await _Run(self.parts, out, timeout, context, stdin).run_async()

    def run_sync(self, *, output: RunOutputOptions | None = None,
                 timeout: float | None = None,
                 context: ExecutionContext | None = None,
                 stdin: StdinInput | None = None,
                 **deprecated_flags: bool) -> PipelineResult:
        """Run to completion on this thread; keywords as :meth:`run`."""
        out = _pipeline_output(output, deprecated_flags)
        return _Run(self.parts, out, timeout, context, stdin).run_sync()


SafeCmdBuilder = typ.Callable[..., SafeCmd]


def make(program: Program, *,
         catalogue: ProgramCatalogue = DEFAULT_CATALOGUE) -> SafeCmdBuilder:
    """A builder of SafeCmds for ``program``; UnknownProgramError at once
    when the catalogue does not list it."""
    entry = catalogue.lookup(program)

    def builder(*args: _ArgValue, **kwargs: _ArgValue) -> SafeCmd:
        return SafeCmd(entry.program, build_argv(*args, **kwargs),
                       entry.project, catalogue)

    return builder
