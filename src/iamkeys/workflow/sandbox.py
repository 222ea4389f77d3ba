"""The Jinja2 sandbox templates run in: immutable, no globals, a short list of filters, and
size checks on `*`, `**`, `%` and `join` that refuse a result before it is allocated."""

from __future__ import annotations

import functools
from typing import Any

from .limits import MAX_RENDERED

SAFE_FILTERS = ("abs", "count", "d", "default", "dictsort", "first", "float", "int", "items",
                "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
                "rejectattr", "reverse", "round", "select", "selectattr", "sort", "string",
                "tojson", "trim", "unique", "upper")


@functools.cache
def sandbox() -> Any:
    """The immutable sandbox, built once on first use: jinja2 is imported only when a workflow
    has templates."""
    from jinja2 import StrictUndefined, pass_eval_context
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Sandbox(ImmutableSandboxedEnvironment):
        """No globals, no calls (checked on the AST), bounded repetition and powers."""

        intercepted_binops = frozenset({"*", "**", "%"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            """`*`, `**` and `%` with their results' sizes checked first."""
            if operator == "%" and isinstance(left, str):
                raise SecurityError("string formatting with % is not allowed")
            if operator == "*":
                _check_repeat(left, right)
                _check_repeat(right, left)
            if operator == "**" and _too_big_power(left, right):
                raise SecurityError(f"{operator} result would be too large")
            return super().call_binop(context, operator, left, right)

    env = Sandbox(undefined=StrictUndefined, autoescape=False)
    env.globals.clear()
    base_join = env.filters["join"]

    @pass_eval_context
    def join(eval_ctx: Any, value: Any, d: Any = "", attribute: Any = None) -> Any:
        """Jinja's `join`, refusing a result larger than MAX_RENDERED before building it."""
        items = list(value)
        if len(str(d)) * len(items) > MAX_RENDERED:
            raise SecurityError("join result would be too large")
        return base_join(eval_ctx, items, d, attribute)

    env.filters = {name: env.filters[name] for name in SAFE_FILTERS}
    env.filters["join"] = join
    return env


def _check_repeat(sequence: Any, times: Any) -> None:
    """`'a' * 10**9` would allocate before any output cap could see it."""
    from jinja2.exceptions import SecurityError

    if isinstance(sequence, str | list | tuple) and isinstance(times, int) \
            and len(sequence) * times > MAX_RENDERED:
        raise SecurityError("* result would be too large")


def _too_big_power(base: Any, exponent: Any) -> bool:
    """Whether an integer power would exceed 4096 bits."""
    if not (isinstance(base, int) and isinstance(exponent, int)) or abs(base) < 2:
        return False
    return exponent > 0 and base.bit_length() * exponent > 4096
