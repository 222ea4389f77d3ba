"""Workflow files: load, validate, plan and run a sequence of registry actions.

A workflow is YAML with `name`, `description`, `inputs` and ordered `steps`; each step calls an
action from `iamkeys.actions` `with:` parameters whose string values may be Jinja2 expressions
over `inputs` and earlier `steps.<id>.output`. The life of a workflow:

    load(reference)    the file (or a library name) -> Workflow; YAML limits, schema, actions,
                       parameter names, literal values and template syntax are all checked here
    plan(workflow, inputs)
                       inputs resolved; every value that depends only on inputs is rendered and
                       validated -> Plan (what `--dry-run` prints)
    run(plan, runtime) each step: values that depend on earlier outputs are rendered and
                       validated, then the action is called -> Outcome

Every error before a call is a `WorkflowError` (an InputError) naming file, step and parameter.
Transport and AWS settings are never read from the file: they come in the `Runtime`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import actions
from .errors import InputError, WorkflowError

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.environment import TemplateExpression
    from jinja2.nodes import Node

MAX_FILE_BYTES = 1 << 20
MAX_STEPS = 50
MAX_INPUTS = 50
MAX_DEPTH = 16
MAX_NODES = 10_000
MAX_RENDERED = 64 * 1024  # characters in one rendered string (subjects, names, lists...)
MAX_INPUT_CHARS = 64 * 1024
LIBRARY_PACKAGE = "iamkeys.workflows"
ID_RE = re.compile(r"[a-z][a-z0-9_-]{0,63}")
INPUT_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
# `inputs.items` would be the dict method, not the input: these names cannot be reached as
# attributes, so they are refused as input names and step ids.
RESERVED_NAMES = frozenset(name for name in dir(dict) if not name.startswith("_"))
TOP_KEYS = ("name", "description", "inputs", "steps")
INPUT_KEYS = ("description", "default", "required")
STEP_KEYS = ("id", "action", "with")
TEMPLATE_MARKERS = ("{{", "{%", "{#")
SAFE_FILTERS = ("abs", "count", "d", "default", "dictsort", "first", "float", "int", "items",
                "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
                "rejectattr", "reverse", "round", "select", "selectattr", "sort", "string",
                "tojson", "trim", "unique", "upper")


# --- the model


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


@dataclass(frozen=True, slots=True)
class Workflow:
    """A validated workflow file; `source` is how errors name it."""

    name: str
    description: str
    inputs: tuple[Input, ...]
    steps: tuple[Step, ...]
    source: str


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """A step with every input-only value rendered and validated; `pending` waits for outputs."""

    id: str
    action: str
    values: Mapping[str, Any]
    pending: Mapping[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class Plan:
    """A workflow with its inputs resolved: what will run, in order."""

    workflow: Workflow
    inputs: Mapping[str, Any]
    steps: tuple[PlannedStep, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    """Every step's output by id; `output` is the last step's; `missing` what steps lacked."""

    outputs: Mapping[str, Any]
    output: Any
    # step id -> what its output is missing (e.g. an inventory's Errors); the run went on.
    missing: Mapping[str, str] = field(default_factory=dict)


# (step id, action name, what its output is missing or None), called when a step is done
StepHook = Callable[[str, str, str | None], None]


# --- loading


def load(reference: str | Path) -> Workflow:
    """A workflow from a YAML file (a path: has a `/` or ends in .yaml/.yml) or from the library."""
    text = str(reference)
    if isinstance(reference, Path) or "/" in text or text.endswith((".yaml", ".yml")):
        return parse(_read_file(Path(reference)), source=text)
    return parse(_read_library(text), source=text)


def library() -> tuple[str, ...]:
    """The names of the workflows shipped in `iamkeys/workflows/`."""
    from importlib import resources

    return tuple(sorted(entry.name.removesuffix(".yaml")
                        for entry in resources.files(LIBRARY_PACKAGE).iterdir()
                        if entry.name.endswith(".yaml")))


def _read_library(name: str) -> str:
    """A shipped workflow's text."""
    from importlib import resources

    if not ID_RE.fullmatch(name) or name not in library():
        raise WorkflowError(name, f"not a workflow of the library ({', '.join(library())}); "
                                  "a file path needs a / or a .yaml extension")
    return resources.files(LIBRARY_PACKAGE).joinpath(f"{name}.yaml").read_text("utf-8")


def _read_file(path: Path) -> str:
    """A workflow file's text: at most MAX_FILE_BYTES of UTF-8."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise WorkflowError(str(path), f"cannot read: {e.strerror or e}") from e
    if len(data) > MAX_FILE_BYTES:
        raise WorkflowError(str(path), f"larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise WorkflowError(str(path), f"not UTF-8 text ({e.reason} at byte {e.start})") from e


def parse(text: str, *, source: str) -> Workflow:
    """Validate a workflow document completely; nothing is called."""
    data = _safe_yaml(text, source)
    if not isinstance(data, dict):
        raise WorkflowError(source, "must be a mapping with name, description, inputs and steps")
    _known_keys(data, TOP_KEYS, source)
    name = _text(data.get("name"), f"{source}: name", required=True)
    description = _text(data.get("description"), f"{source}: description")
    inputs = _inputs(data.get("inputs"), source)
    steps = _steps(data.get("steps"), source, {i.name for i in inputs})
    return Workflow(name=name, description=description, inputs=inputs, steps=steps,
                    source=source)


def _safe_yaml(text: str, source: str) -> Any:
    """`yaml.safe_load`, after an event scan that enforces the limits and refuses aliases."""
    import yaml

    try:
        _scan(yaml.parse(text, Loader=yaml.SafeLoader), source)
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        line = f"line {e.problem_mark.line + 1}: " if e.problem_mark else ""
        raise WorkflowError(source, f"not valid YAML: {line}{e.problem or e.context}") from e
    except yaml.YAMLError as e:
        raise WorkflowError(source, f"not valid YAML: {' '.join(str(e).split())}") from e


@dataclass(slots=True)
class _OpenMapping:
    """A YAML mapping being scanned: the keys seen so far, and whether a key comes next."""

    seen: set[str] = field(default_factory=set)
    expect_key: bool = True


def _scan(events: Iterator[Any], source: str) -> None:
    """Refuse anchors and aliases (billion laughs), deep nesting, huge or duplicate-key docs."""
    import yaml

    open_collections: list[_OpenMapping | None] = []  # None: a sequence
    count = 0
    for event in events:
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise WorkflowError(source, f"line {event.start_mark.line + 1}: YAML anchors and "
                                        "aliases are not allowed")
        if isinstance(event, yaml.CollectionEndEvent):
            open_collections.pop()
        if not isinstance(event, yaml.NodeEvent):
            continue
        count += 1
        if count > MAX_NODES:
            raise WorkflowError(source, f"more than {MAX_NODES} YAML nodes")
        if open_collections and open_collections[-1] is not None:
            _check_key(open_collections[-1], event, source)
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_collections) >= MAX_DEPTH:
                raise WorkflowError(source, f"nested deeper than {MAX_DEPTH} levels")
            is_mapping = isinstance(event, yaml.MappingStartEvent)
            open_collections.append(_OpenMapping() if is_mapping else None)


def _check_key(mapping: _OpenMapping, event: Any, source: str) -> None:
    """Keys and values alternate; keys must be plain scalars, each given once."""
    import yaml

    if mapping.expect_key:
        where = f"line {event.start_mark.line + 1}"
        if not isinstance(event, yaml.ScalarEvent):
            raise WorkflowError(source, f"{where}: mapping keys must be plain scalars")
        if event.value in mapping.seen:
            raise WorkflowError(source, f"{where}: duplicate key {event.value!r}")
        mapping.seen.add(event.value)
    mapping.expect_key = not mapping.expect_key


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
    if not isinstance(name, str) or not INPUT_RE.fullmatch(name) or name in RESERVED_NAMES:
        raise WorkflowError(where, "input names are a-z, 0-9 and _, starting with a letter, and "
                                   "not a dict method name")
    if not isinstance(spec, dict):
        raise WorkflowError(where, "must be a mapping with description, default or required")
    _known_keys(spec, INPUT_KEYS, where)
    required = spec.get("required", False)
    if not isinstance(required, bool):
        raise WorkflowError(where, "required must be true or false")
    if required == ("default" in spec):
        raise WorkflowError(where, "needs either a default or required: true (not both)")
    default = spec.get("default")
    _input_value(default, f"{where}: default")
    return Input(name=name, description=_text(spec.get("description"), f"{where}: description"),
                 default=default, required=required)


def _input_value(value: Any, where: str) -> Any:
    """An input value: null, a boolean, a number, a string, or a list of those."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not (item is None or isinstance(item, bool | int | float | str)):
            raise WorkflowError(where, "must be null, a boolean, a number, a string, or a list "
                                       "of those")
        if isinstance(item, str) and len(item) > MAX_INPUT_CHARS:
            raise WorkflowError(where, f"longer than {MAX_INPUT_CHARS} characters")
    if len(items) > 1000:
        raise WorkflowError(where, "a list of more than 1000 items")
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
    """One step: id, known action, known and complete parameters, checked values."""
    where = f"{source}: steps[{index}]"
    if not isinstance(data, dict):
        raise WorkflowError(where, "must be a mapping with id, action and with")
    step_id = data.get("id")
    if not isinstance(step_id, str) or not ID_RE.fullmatch(step_id) \
            or step_id in RESERVED_NAMES:
        raise WorkflowError(where, "id must be a-z, 0-9, _ and -, starting with a letter, at "
                                   "most 64 characters, and not a dict method name")
    where = f"{source}: step {step_id!r}"
    if step_id in earlier:
        raise WorkflowError(where, "duplicate step id")
    _known_keys(data, STEP_KEYS, where)
    action = _action(data.get("action"), where)
    values = data.get("with") or {}
    if not isinstance(values, dict):
        raise WorkflowError(where, "with must be a mapping of parameter names to values")
    needs = {name: _check_value(action, name, value, f"{where}: parameter {name}",
                                input_names, earlier)
             for name, value in values.items()}
    _complete(action, values, where)
    return Step(id=step_id, action=action.name, values=values, needs=needs)


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
    templates = list(_strings_with_templates(value))
    if not templates:
        _validated(action, name, value, where)
        return frozenset()
    needs: set[str] = set()
    for text in templates:
        compiled = _compile(text, where, name)
        _check_names(compiled, where, name, input_names, earlier)
        needs |= compiled.steps
    return frozenset(needs)


def _strings_with_templates(value: Any) -> Iterator[str]:
    """The strings inside a value (at any depth) that hold Jinja2 markup."""
    if isinstance(value, str):
        if any(marker in value for marker in TEMPLATE_MARKERS):
            yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings_with_templates(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings_with_templates(item)


def _validated(action: actions.Action, name: str, value: Any, where: str) -> Any:
    """The action's own validator for one value, its error located."""
    try:
        return action.check(name, value)
    except InputError as e:
        raise WorkflowError(where, e.rule, parameter=name) from e


# --- templates


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A compiled template; `native` when the whole string is one `{{ expression }}`."""

    source: str
    template: Template | None
    expression: TemplateExpression | None
    inputs: frozenset[str]
    steps: frozenset[str]
    output_of: str | None  # the step id when the template is exactly `{{ steps.<id>.output }}`


@functools.cache
def _sandbox() -> Any:
    """The immutable sandbox, with a short filter list and size checks on `*`, `**` and `%`.

    Built once, on first use: jinja2 is imported only when a workflow has templates.
    """
    from jinja2 import StrictUndefined, pass_eval_context
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Sandbox(ImmutableSandboxedEnvironment):
        """No globals, no calls (checked on the AST), bounded repetition and powers."""

        intercepted_binops = frozenset({"*", "**", "%"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
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


def _compile(text: str, where: str, parameter: str) -> _Compiled:
    """Parse, check and compile one template string."""
    try:
        return _compile_cached(text)
    except _Refused as e:
        raise WorkflowError(where, str(e), parameter=parameter) from None


class _Refused(Exception):
    """A template refused by the rules here or by the sandbox, or failing; a one-line reason."""


@functools.lru_cache(maxsize=512)
def _compile_cached(text: str) -> _Compiled:
    """Compile a template; raises _Refused with a one-line reason."""
    try:
        return _compile_checked(text)
    except RecursionError:
        # Jinja's parser and code generator recurse once per nesting level.
        raise _Refused("template nested too deeply") from None


def _compile_checked(text: str) -> _Compiled:
    """Parse, check the tree, compile."""
    from jinja2 import nodes
    from jinja2.environment import TemplateExpression
    from jinja2.exceptions import TemplateError, TemplateSyntaxError

    env = _sandbox()
    try:
        tree = env.parse(text)
    except TemplateSyntaxError as e:
        raise _Refused(f"template syntax error: {e.message} (line {e.lineno})") from e
    if any(not isinstance(node, nodes.Output) for node in tree.body):
        raise _Refused("only {{ expressions }} are allowed, not {% statements %}")
    inputs, steps = _references(tree)
    expressions = [n for out in tree.body for n in out.nodes]
    native = len(expressions) == 1 and not isinstance(expressions[0], nodes.TemplateData)
    try:
        if not native:
            return _Compiled(source=text, template=env.from_string(tree), expression=None,
                             inputs=inputs, steps=steps, output_of=None)
        # What Environment.compile_expression does, on the tree already checked above.
        body = [nodes.Assign(nodes.Name("result", "store"), expressions[0], lineno=1)]
        expression = TemplateExpression(env.from_string(nodes.Template(body, lineno=1)),
                                        undefined_to_none=False)
    except TemplateError as e:
        raise _Refused(f"template error: {e.message}") from e
    return _Compiled(source=text, template=None, expression=expression, inputs=inputs,
                     steps=steps, output_of=_output_of(expressions[0]))


def _references(tree: Node) -> tuple[frozenset[str], frozenset[str]]:
    """(input names, step ids) a template reads; refuses calls and any other variable."""
    from jinja2 import nodes

    inputs: set[str] = set()
    steps: set[str] = set()
    for ancestors, node in _walk(tree, ()):
        if isinstance(node, nodes.Call):
            raise _Refused("function and method calls are not allowed; use filters")
        if not isinstance(node, nodes.Name):
            continue
        if node.name == "steps":
            steps.add(_step_reference(ancestors, node))
        elif node.name == "inputs":
            name = _subscript(ancestors[-1], node) if ancestors else None
            inputs.update([name] if name is not None else [])
        else:
            raise _Refused(f"unknown variable {node.name!r} (use inputs.<name> or "
                           "steps.<id>.output)")
    return frozenset(inputs), frozenset(steps)


def _walk(node: Node, ancestors: tuple[Node, ...]) -> Iterator[tuple[tuple[Node, ...], Node]]:
    """Every node of a template tree with its ancestors, nearest last."""
    yield ancestors, node
    for child in node.iter_child_nodes():
        yield from _walk(child, (*ancestors, node))


def _subscript(parent: Node | None, node: Node) -> str | None:
    """`node.name` or `node['name']`: the name, when `parent` is that; None otherwise."""
    from jinja2 import nodes

    if isinstance(parent, nodes.Getattr) and parent.node is node:
        return str(parent.attr)
    if isinstance(parent, nodes.Getitem) and parent.node is node \
            and isinstance(parent.arg, nodes.Const) and isinstance(parent.arg.value, str):
        return parent.arg.value
    return None


def _step_reference(ancestors: tuple[Node, ...], node: Node) -> str:
    """The id in `steps.<id>.output`; any other use of `steps` is refused."""
    if len(ancestors) >= 2:
        step_id = _subscript(ancestors[-1], node)
        if step_id is not None and _subscript(ancestors[-2], ancestors[-1]) == "output":
            return step_id
    raise _Refused("refer to an earlier step's result as steps.<id>.output")


def _output_of(expression: Node) -> str | None:
    """The step id when `expression` is exactly `steps.<id>.output`."""
    from jinja2 import nodes

    for ancestors, node in _walk(expression, ()):
        if isinstance(node, nodes.Name) and node.name == "steps" and len(ancestors) == 2:
            return _step_reference(ancestors, node)
    return None


def _check_names(compiled: _Compiled, where: str, parameter: str, input_names: set[str],
                 earlier: list[str]) -> None:
    """Inputs must be declared; steps must come earlier in the file."""
    unknown = sorted(compiled.inputs - input_names)
    if unknown:
        known = ", ".join(sorted(input_names)) or "none"
        raise WorkflowError(where, f"refers to input {unknown[0]!r}, which is not declared "
                                   f"(inputs: {known})", parameter=parameter)
    later = sorted(compiled.steps - set(earlier))
    if later:
        raise WorkflowError(where, f"refers to step {later[0]!r}, which is not an earlier step",
                            parameter=parameter)


def render(value: Any, context: Mapping[str, Any], where: str, parameter: str) -> Any:
    """A value with its templates rendered: one `{{ expr }}` keeps its type, others are text."""
    if isinstance(value, list):
        return [render(item, context, where, parameter) for item in value]
    if isinstance(value, dict):
        return {key: render(item, context, where, parameter) for key, item in value.items()}
    if not isinstance(value, str) or not any(m in value for m in TEMPLATE_MARKERS):
        return value
    compiled = _compile(value, where, parameter)
    try:
        return _evaluate(compiled, context)
    except _Refused as e:
        raise WorkflowError(where, str(e), parameter=parameter) from None


def _evaluate(compiled: _Compiled, context: Mapping[str, Any]) -> Any:
    """Run a compiled template in the sandbox; every failure becomes _Refused."""
    from jinja2.exceptions import SecurityError, TemplateError

    try:
        if compiled.expression is not None:
            result = compiled.expression(**context)
            _no_undefined(result, depth=0)
        else:
            assert compiled.template is not None
            result = _bounded_text(compiled.template.generate(**context))
    except SecurityError as e:
        raise _Refused(f"refused by the template sandbox: {e}") from e
    except TemplateError as e:
        raise _Refused(f"template error: {e}") from e
    # Errors of the expression itself (1/0, 'a' + 1, [][1]) are the template's, not ours.
    except (ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as e:
        raise _Refused(f"template error: {type(e).__name__}: {e}") from e
    return result


def _no_undefined(value: Any, depth: int) -> None:
    """Fail on an undefined value anywhere in a native result (StrictUndefined raises on str)."""
    from jinja2 import Undefined

    if isinstance(value, Undefined):
        str(value)
    if isinstance(value, str) and len(value) > MAX_RENDERED:
        raise _Refused(f"renders more than {MAX_RENDERED} characters")
    if depth > MAX_DEPTH:
        raise _Refused(f"result nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, list | tuple):
        for item in value:
            _no_undefined(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            _no_undefined(item, depth + 1)


def _bounded_text(chunks: Iterator[str]) -> str:
    """Join rendered chunks, stopping at MAX_RENDERED characters."""
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_RENDERED:
            raise _Refused(f"renders more than {MAX_RENDERED} characters")
        parts.append(chunk)
    return "".join(parts)


# --- planning


def plan(workflow: Workflow, inputs: Mapping[str, Any] | None = None) -> Plan:
    """Resolve the inputs, then render and validate every value that depends only on them."""
    resolved = resolve_inputs(workflow, inputs or {})
    context = {"inputs": resolved, "steps": {}}
    planned = tuple(_plan_step(step, context, workflow.source) for step in workflow.steps)
    return Plan(workflow=workflow, inputs=resolved, steps=planned)


def resolve_inputs(workflow: Workflow, given: Mapping[str, Any]) -> dict[str, Any]:
    """Given inputs over defaults; unknown names and missing required inputs are errors."""
    declared = {i.name: i for i in workflow.inputs}
    for name in given:
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise InputError("input", f"{name!r} is not an input of workflow {workflow.name} "
                                      f"(inputs: {known})")
        _input_value(given[name], f"{workflow.source}: input {name!r}")
    for spec in workflow.inputs:
        if spec.required and given.get(spec.name) is None:
            raise InputError("input", f"{spec.name!r} is required by workflow {workflow.name}")
    return {name: given.get(name, spec.default) for name, spec in declared.items()}


def _plan_step(step: Step, context: Mapping[str, Any], source: str) -> PlannedStep:
    """Render and check the values that need no step output; keep the others pending."""
    action = actions.get(step.action)
    values: dict[str, Any] = {}
    pending: dict[str, frozenset[str]] = {}
    for name, raw in step.values.items():
        needs = step.needs.get(name, frozenset())
        if needs:
            pending[name] = needs
            values[name] = raw
            continue
        where = f"{source}: step {step.id!r}: parameter {name}"
        values[name] = render(raw, context, where, name)
        _validated(action, name, values[name], where)
    return PlannedStep(id=step.id, action=step.action, values=values, pending=pending)


def describe(planned: Plan) -> dict[str, Any]:
    """The plan as `--dry-run` prints it; values waiting for a step's output are described."""
    return {
        "workflow": planned.workflow.name,
        "source": planned.workflow.source,
        "dry_run": True,
        "inputs": dict(planned.inputs),
        "steps": [{"id": step.id, "action": step.action,
                   "with": {name: _shown(step, name, value)
                            for name, value in step.values.items()}}
                  for step in planned.steps],
    }


def _shown(step: PlannedStep, name: str, value: Any) -> Any:
    """A planned value, or `<output of step list>` for one that waits for a step's output."""
    needs = step.pending.get(name)
    if not needs:
        return value
    if isinstance(value, str) and _compile_cached(value).output_of is not None:
        return f"<output of step {_compile_cached(value).output_of}>"
    return f"<{value} with the output of step {' and '.join(sorted(needs))}>"


# --- running


def run(planned: Plan, *, runtime: actions.Runtime, on_step: StepHook | None = None) -> Outcome:
    """Run the steps in order; each waits-for-output value is rendered and checked first."""
    outputs: dict[str, Any] = {}
    missing: dict[str, str] = {}
    output: Any = None
    for step in planned.steps:
        action = actions.get(step.action)
        context = {"inputs": planned.inputs,
                   "steps": {k: {"output": v} for k, v in outputs.items()}}
        where = f"{planned.workflow.source}: step {step.id!r}"
        output = call(action, _rendered(step, context, where), runtime=runtime, where=where)
        outputs[step.id] = output
        gap = action.missing(output)
        if gap is not None:
            missing[step.id] = gap
        if on_step is not None:
            on_step(step.id, step.action, gap)
    return Outcome(outputs=outputs, output=output, missing=missing)


def _rendered(step: PlannedStep, context: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The step's values with the pending ones rendered now that earlier outputs exist."""
    return {name: render(value, context, f"{where}: parameter {name}", name)
            if name in step.pending else value
            for name, value in step.values.items()}


def call(action: actions.Action, values: Mapping[str, Any], *, runtime: actions.Runtime,
         where: str) -> Any:
    """Validate and run one action; input errors about its parameters are located at `where`."""
    try:
        request = action.validate(values)
        return action.execute(request, runtime)
    except WorkflowError:
        raise
    except InputError as e:
        if action.parameter(e.parameter) is None:
            raise  # a transport or connection option, not the workflow's
        raise WorkflowError(f"{where}: parameter {e.parameter}", e.rule,
                            parameter=e.parameter) from e


def execute(reference: str | Path, inputs: Mapping[str, Any] | None = None, *,
            runtime: actions.Runtime, on_step: StepHook | None = None) -> Outcome:
    """Load, plan and run a workflow: the path `iamkeys run`, the demo and Lambda share."""
    return run(plan(load(reference), inputs), runtime=runtime, on_step=on_step)
