"""What the adapters write about a run, with secrets hidden.

The pure-Python cuprum logs argv verbatim (its docs warn about it). Here
every adapter writes argv and environment overlays through libcuprum's
redaction (cuprum/redact.h): elements matching ``*TOKEN*``, ``*SECRET*``,
``*PASSWORD*`` or ``*KEY*`` as ``NAME=value``, ``--name=value`` or
``--name value`` become ``***``, as do values matching the caller's globs;
environment overlays follow the same rules (a ``Redaction``'s own globs and
names included).
The child always gets the real values.
"""

from __future__ import annotations

import dataclasses as dc
import typing as typ

from cuprum import _native

if typ.TYPE_CHECKING:
    import collections.abc as cabc


@dc.dataclass(frozen=True, slots=True)
class Redaction:
    """Redaction rules: ``patterns`` are fnmatch globs of whole values,
    ``secret_names`` extra globs of option/variable names;
    ``no_default_names`` drops the default names (not recommended)."""

    patterns: tuple[str, ...] = ()
    secret_names: tuple[str, ...] = ()
    no_default_names: bool = False

    def argv(self, argv: cabc.Sequence[str]) -> tuple[str, ...]:
        """``argv`` with secrets replaced by ``***``."""
        return _native.redact_argv(list(argv), patterns=list(self.patterns),
                                   secret_names=list(self.secret_names),
                                   no_default_names=self.no_default_names)

    def env(self, env: cabc.Mapping[str, str] | None) -> dict[str, str] | None:
        """An environment overlay with secret values replaced by ``***``."""
        if env is None:
            return None
        pairs = list(env.items())
        hidden = _native.redact_env(pairs, patterns=list(self.patterns),
                                    secret_names=list(self.secret_names),
                                    no_default_names=self.no_default_names)
        return {k: "***" if h else v for (k, v), h in zip(pairs, hidden)}


DEFAULT_REDACTION = Redaction()
