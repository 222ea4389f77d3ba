"""The Jinja2 sandbox templates run in: immutable, no globals, a short list of filters, and
size checks on `*`, `**`, `%` and `join` that refuse a result before it is allocated.

On a mapping (`inputs`, `steps`, a step, any mapping in an output) `x.name` and `x['name']`
reach only the item `name`, never an attribute: `inputs.items` is the input named items and
`steps.keys.output` the output of the step `keys`, while `inputs.__class__`, `inputs._data` and
the dict methods are out of reach (an undefined item, an error when used).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from .limits import MAX_RENDERED

SAFE_FILTERS = ("abs", "count", "d", "default", "dictsort", "first", "float", "int", "items",
                "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
                "rejectattr", "reverse", "round", "select", "selectattr", "sort", "string",
                "tojson", "trim", "unique", "upper")


class Items(Mapping[str, Any]):
    """A read-only mapping, as templates see `inputs`, `steps` and each step."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        """The item `key`."""
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        """The names, in order."""
        return iter(self._data)

    def __reversed__(self) -> Iterator[str]:
        """The names, last first (Jinja's `last` filter)."""
        return reversed(list(self._data))

    def __len__(self) -> int:
        """How many items."""
        return len(self._data)

    def __repr__(self) -> str:
        """As the dict it wraps, which is what `{{ inputs }}` prints."""
        return repr(dict(self._data))


def plain(value: Any) -> Any:
    """`json.dumps`'s `default` for `tojson`: an Items as a dict."""
    if isinstance(value, Items):
        return dict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


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

        def getattr(self, obj: Any, attribute: str) -> Any:
            """`x.name`: on a mapping its item only, else the sandbox's safe attribute."""
            if isinstance(obj, Mapping):
                return _item(self, obj, attribute)
            return super().getattr(obj, attribute)

        def getitem(self, obj: Any, argument: Any) -> Any:
            """`x[key]`: on a mapping its item only, else the sandbox's safe subscript."""
            if isinstance(obj, Mapping):
                return _item(self, obj, argument)
            return super().getitem(obj, argument)

    env = Sandbox(undefined=StrictUndefined, autoescape=False)
    env.globals.clear()
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "default": plain}
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


def _item(env: Any, mapping: Mapping[Any, Any], key: Any) -> Any:
    """A mapping's item, or an undefined value naming it; never an attribute of the mapping."""
    try:
        return mapping[key]
    except (TypeError, LookupError):
        if isinstance(mapping, Items):
            return env.undefined(f"no item {key!r}", obj=mapping, name=key)
        return env.undefined(obj=mapping, name=key)


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
