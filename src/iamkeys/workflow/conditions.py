"""A step's `if:`: true, false, or one `{{ expression }}` over inputs and earlier outputs that
must render to a boolean. A single expression renders natively (as a lone `{{ }}` value does in
`with:`), so `{{ inputs.n > 3 }}` is the boolean True, while `{{ inputs.flag }}` given on the
command line is the string 'true' and is refused: compare it (`{{ inputs.flag == 'true' }}`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import WorkflowError
from .expressions import check_names, compile_template, has_template, render

REMEDY = "write true, false or one {{ expression }}"


@dataclass(frozen=True, slots=True)
class Condition:
    """A step's `if:` as written; `value` is a literal's, None for an expression."""

    expression: str  # a literal as "true" or "false"
    value: bool | None = None
    needs: frozenset[str] = frozenset()  # ids of the steps whose output it reads

    def why_skipped(self) -> str:
        """What the run's log says of a step this condition skipped."""
        return "if: false" if self.value is False else f"{self.expression} was false"


def condition(value: Any, where: str, input_names: set[str], earlier: list[str]) -> Condition:
    """Check an `if:` as written: a boolean, or one expression reading declared inputs and
    earlier steps only."""
    where = f"{where}: if"
    if isinstance(value, bool):
        return Condition(expression=str(value).lower(), value=value)
    if not has_template(value):
        raise WorkflowError(where, f"is {what(value)}, not true or false ({REMEDY})",
                            parameter="if")
    template = compile_template(value, where, "if")
    if template.expression is None:
        raise WorkflowError(where, "must be one {{ expression }} with no text around it (text "
                                   "makes a string, not true or false)", parameter="if")
    check_names(template, where, "if", input_names, earlier)
    return Condition(expression=value, needs=template.steps)


def decide(condition: Condition, names: Mapping[str, Any], where: str) -> bool:
    """Whether the step runs: the literal, or the expression rendered; it must be a boolean."""
    if condition.value is not None:
        return condition.value
    return _boolean(condition, render(condition.expression, names, f"{where}: if", "if"), where)


def early(condition: Condition, inputs_only: Mapping[str, Any], where: str) -> bool | None:
    """The condition's value when the inputs alone decide it, else None.

    With no step output in `inputs_only`, reaching `steps.<id>.output` raises: a result means
    the expression never reached one (`inputs.to is not none and ...` with no `to`), and the run
    would find the same. A failure is left for the step to report.
    """
    if condition.value is not None or not condition.needs:
        return decide(condition, inputs_only, where)
    try:
        value = render(condition.expression, inputs_only, f"{where}: if", "if")
    except WorkflowError:
        return None
    return _boolean(condition, value, where)


def _boolean(condition: Condition, value: Any, where: str) -> bool:
    """A rendered condition, which must be a boolean."""
    if not isinstance(value, bool):
        raise WorkflowError(f"{where}: if", f"{condition.expression} is {what(value)}, not true "
                                            "or false", parameter="if")
    return value


def what(value: Any) -> str:
    """A value that is not a boolean, named for an error message (shortened)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the string {value[:40]!r}" + ("..." if len(value) > 40 else "")
    if isinstance(value, int) and value.bit_length() > 64:
        return "a number"  # str() of a huge int is slow, and refused past 4300 digits
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"a {type(value).__name__}"
