"""The workflow model and its validation: name, inputs, steps, their `with:` values and `if:`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import actions
from ..errors import InputError, WorkflowError
from . import loading
from .conditions import Condition, condition
from .expressions import check_names, compile_template, templates_in
from .limits import MAX_INPUT_CHARS, MAX_INPUT_ITEMS, MAX_INPUTS, MAX_STEPS

# Any such name works, `keys`, `items` and `values` included: templates see inputs and steps as
# mappings whose attributes are their items (sandbox.Items).
ID_RE = re.compile(r"[a-z][a-z0-9_-]{0,63}")
INPUT_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
TOP_KEYS = ("name", "description", "inputs", "steps")
INPUT_KEYS = ("description", "default", "required")
STEP_KEYS = ("id", "if", "action", "with")


@dataclass(frozen=True, slots=True)
class Input:
    """A declared input: `default` None means "not given" unless the input is required."""

    name: str
    description: str = ""
    default: Any = None
    required: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    """One step as written: its action and raw `with:` values (templates not yet rendered)."""

    id: str
    action: str
    values: Mapping[str, Any]
    # parameter -> ids of the steps whose output its templates read
    needs: Mapping[str, frozenset[str]] = field(default_factory=dict)
    condition: Condition | None = None  # `if:`; None: the step always runs


@dataclass(frozen=True, slots=True)
class Workflow:
    """A validated workflow file; `source` is how errors name it."""

    name: str
    description: str
    inputs: tuple[Input, ...]
    steps: tuple[Step, ...]
    source: str


def load(reference: str | Path) -> Workflow:
    """A workflow from a YAML file (a path: has a `/` or ends in .yaml/.yml) or from the library."""
    return parse(loading.read(reference), source=str(reference))


def parse(text: str, *, source: str) -> Workflow:
    """Validate a workflow document completely; nothing is called."""
    data = loading.safe_yaml(text, source)
    if not isinstance(data, dict):
        raise WorkflowError(source, "must be a mapping with name, description, inputs and steps")
    _known_keys(data, TOP_KEYS, source)
    name = _text(data.get("name"), f"{source}: name", required=True)
    description = _text(data.get("description"), f"{source}: description")
    inputs = _inputs(data.get("inputs"), source)
    steps = _steps(data.get("steps"), source, {i.name for i in inputs})
    return Workflow(name=name, description=description, inputs=inputs, steps=steps,
                    source=source)


def _known_keys(data: Mapping[Any, Any], allowed: tuple[str, ...], where: str) -> None:
    """Unknown keys are errors, not silently ignored."""
    for key in data:
        if key not in allowed:
            raise WorkflowError(where, f"unknown key {key!r} (allowed: {', '.join(allowed)})")


def _text(value: Any, where: str, *, required: bool = False) -> str:
    """A non-empty string field (name, description)."""
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > 4096:
        raise WorkflowError(where, "must be a non-empty string (at most 4096 characters)")
    return value


def _inputs(data: Any, source: str) -> tuple[Input, ...]:
    """The `inputs:` mapping."""
    if data is None:
        return ()
    if not isinstance(data, dict) or len(data) > MAX_INPUTS:
        raise WorkflowError(f"{source}: inputs", f"must be a mapping of at most {MAX_INPUTS} "
                                                 "names to {description, default, required}")
    return tuple(_input(name, spec, source) for name, spec in data.items())


def _input(name: Any, spec: Any, source: str) -> Input:
    """One declared input."""
    where = f"{source}: input {name!r}"
    if not isinstance(name, str) or not INPUT_RE.fullmatch(name):
        raise WorkflowError(where, "input names are a-z, 0-9 and _, starting with a letter, at "
                                   "most 64 characters")
    if not isinstance(spec, dict):
        raise WorkflowError(where, "must be a mapping with description, default or required")
    _known_keys(spec, INPUT_KEYS, where)
    required = spec.get("required", False)
    if not isinstance(required, bool):
        raise WorkflowError(where, "required must be true or false")
    if required == ("default" in spec):
        raise WorkflowError(where, "needs either a default or required: true (not both)")
    default = spec.get("default")
    input_value(default, f"{where}: default")
    return Input(name=name, description=_text(spec.get("description"), f"{where}: description"),
                 default=default, required=required)


def input_value(value: Any, where: str) -> Any:
    """An input value: null, a boolean, a number, a string, or a list of those."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not (item is None or isinstance(item, bool | int | float | str)):
            raise WorkflowError(where, "must be null, a boolean, a number, a string, or a list "
                                       "of those")
        if isinstance(item, str) and len(item) > MAX_INPUT_CHARS:
            raise WorkflowError(where, f"longer than {MAX_INPUT_CHARS} characters")
    if len(items) > MAX_INPUT_ITEMS:
        raise WorkflowError(where, f"a list of more than {MAX_INPUT_ITEMS} items")
    return value


def _steps(data: Any, source: str, input_names: set[str]) -> tuple[Step, ...]:
    """The `steps:` list, each step checked against the steps before it."""
    if not isinstance(data, list) or not data or len(data) > MAX_STEPS:
        raise WorkflowError(f"{source}: steps", f"must be a list of 1-{MAX_STEPS} steps")
    steps: list[Step] = []
    for index, item in enumerate(data):
        steps.append(_step(item, index, source, input_names, [s.id for s in steps]))
    return tuple(steps)


def _step(data: Any, index: int, source: str, input_names: set[str],
          earlier: list[str]) -> Step:
    """One step: id, condition, known action, known and complete parameters, checked values."""
    where = f"{source}: steps[{index}]"
    if not isinstance(data, dict):
        raise WorkflowError(where, "must be a mapping with id, action and with")
    step_id = data.get("id")
    if not isinstance(step_id, str) or not ID_RE.fullmatch(step_id):
        raise WorkflowError(where, "id must be a-z, 0-9, _ and -, starting with a letter, at "
                                   "most 64 characters")
    where = f"{source}: step {step_id!r}"
    if step_id in earlier:
        raise WorkflowError(where, "duplicate step id")
    _known_keys(data, STEP_KEYS, where)
    when = condition(data["if"], where, input_names, earlier) if "if" in data else None
    action = _action(data.get("action"), where)
    values = data.get("with") or {}
    if not isinstance(values, dict):
        raise WorkflowError(where, "with must be a mapping of parameter names to values")
    needs = {name: _check_value(action, name, value, f"{where}: parameter {name}",
                                input_names, earlier)
             for name, value in values.items()}
    _complete(action, values, where)
    return Step(id=step_id, action=action.name, values=values, needs=needs, condition=when)


def _action(name: Any, where: str) -> actions.Action:
    """A registry action by name."""
    try:
        return actions.get(name)
    except InputError as e:
        raise WorkflowError(where, e.rule, parameter="action") from e


def _complete(action: actions.Action, values: Mapping[str, Any], where: str) -> None:
    """Every required parameter is given."""
    for parameter in action.parameters:
        if parameter.required and parameter.name not in values:
            raise WorkflowError(f"{where}: parameter {parameter.name}",
                                f"is required by {action.name}", parameter=parameter.name)


def _check_value(action: actions.Action, name: Any, value: Any, where: str,
                 input_names: set[str], earlier: list[str]) -> frozenset[str]:
    """Check one parameter: known name, then literal values now and templates' references."""
    if not isinstance(name, str) or action.parameter(name) is None:
        known = ", ".join(p.name for p in action.parameters)
        raise WorkflowError(where, f"is not a parameter of {action.name} (parameters: {known})",
                            parameter=str(name))
    templates = list(templates_in(value))
    if not templates:
        validated(action, name, value, where)
        return frozenset()
    needs: set[str] = set()
    for text in templates:
        template = compile_template(text, where, name)
        check_names(template, where, name, input_names, earlier)
        needs |= template.steps
    return frozenset(needs)


def validated(action: actions.Action, name: str, value: Any, where: str) -> Any:
    """The action's own validator for one value, its error located."""
    try:
        return action.check(name, value)
    except InputError as e:
        raise WorkflowError(where, e.rule, parameter=name) from e
