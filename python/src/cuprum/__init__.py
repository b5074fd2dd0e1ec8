"""cuprum: run external programs safely, backed by libcuprum.

The API of the pure-Python cuprum (catalogue, ``sh.make``, SafeCmd,
pipelines, the scoped context, events) over the C library's event loop.
"""

from __future__ import annotations

from cuprum import _native
from cuprum.catalogue import (
    CAT, CORE_OPS_PROJECT, DEFAULT_CATALOGUE, DEFAULT_PROJECTS, ECHO, FALSE,
    GIT, GREP, HEAD, LS, PRINTF, PWD, RSYNC, SEQ, SLEEP, TAR, TR, TRUE, WC,
    YES, ProgramCatalogue, ProgramEntry, ProjectSettings,
)
from cuprum.concurrent import (
    ConcurrentConfig, ConcurrentResult, run_concurrent, run_concurrent_sync,
)
from cuprum.context import (
    AfterHook, AllowRegistration, BeforeHook, CuprumContext, EnvRegistration,
    HookRegistration, ScopeConfig, after, allow, before, current_context, env,
    get_context, merge_env_overlays, observe, resolve_env, scoped,
)
from cuprum.errors import (
    CuprumError, DuplicateProgramError, DuplicateProjectError,
    ForbiddenProgramError, UnknownProgramError,
)
from cuprum.events import ExecEvent, ExecHook
from cuprum.logging_hooks import LoggingHookRegistration, logging_hook
from cuprum.redaction import Redaction
from cuprum.program import Program
from cuprum.sh import (
    CommandResult, ExecutionContext, IOOptions, Pipeline, PipelineResult,
    RunOutputOptions, SafeCmd, SafeCmdBuilder, StdinInput, TimeoutExpired,
    stream_backend,
)

from . import adapters, builders, sh  # noqa: E402

PACKAGE_NAME = "cuprum"
LIBCUPRUM_VERSION = _native.version

__all__ = [
    "CAT", "CORE_OPS_PROJECT", "DEFAULT_CATALOGUE", "DEFAULT_PROJECTS", "ECHO",
    "FALSE", "GIT", "GREP", "HEAD", "LIBCUPRUM_VERSION", "LS", "PACKAGE_NAME",
    "PRINTF", "PWD", "RSYNC", "SEQ", "SLEEP", "TAR", "TR", "TRUE", "WC", "YES",
    "AfterHook", "AllowRegistration", "ConcurrentConfig", "ConcurrentResult",
    "run_concurrent", "run_concurrent_sync", "BeforeHook", "CommandResult",
    "CuprumContext", "CuprumError", "DuplicateProgramError",
    "DuplicateProjectError", "EnvRegistration", "ExecEvent", "ExecHook",
    "ExecutionContext", "ForbiddenProgramError", "HookRegistration",
    "IOOptions", "Pipeline", "PipelineResult", "Program", "ProgramCatalogue",
    "ProgramEntry", "ProjectSettings", "RunOutputOptions", "SafeCmd",
    "SafeCmdBuilder", "ScopeConfig", "StdinInput", "TimeoutExpired",
    "UnknownProgramError", "after", "allow", "before", "current_context",
    "env", "get_context", "merge_env_overlays", "observe", "resolve_env",
    "builders", "scoped", "sh", "LoggingHookRegistration", "logging_hook",
    "Redaction", "stream_backend",
]
