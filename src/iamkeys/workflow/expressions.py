"""Templates in workflow values: parsed and checked once (what they read, no statements, no
calls), then rendered in the sandbox. One `{{ expression }}` alone keeps its type (a list, a
number, a boolean, a step's whole output); any other template renders to text."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import WorkflowError
from .limits import MAX_DEPTH, MAX_RENDERED
from .sandbox import Items, sandbox

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.environment import TemplateExpression
    from jinja2.nodes import Node

TEMPLATE_MARKERS = ("{{", "{%", "{#")


@dataclass(frozen=True, slots=True)
class Compiled:
    """A compiled template; `expression` (not `template`) when it is one `{{ expression }}`."""

    source: str
    template: Template | None
    expression: TemplateExpression | None
    inputs: frozenset[str]
    steps: frozenset[str]
    output_of: str | None  # the step id when the template is exactly `{{ steps.<id>.output }}`


class Refused(Exception):
    """A template refused by the rules here or by the sandbox, or failing; a one-line reason."""


def has_template(value: Any) -> bool:
    """Whether a value is a string holding Jinja2 markup."""
    return isinstance(value, str) and any(marker in value for marker in TEMPLATE_MARKERS)


def templates_in(value: Any) -> Iterator[str]:
    """The strings inside a value (at any depth) that hold Jinja2 markup."""
    if has_template(value):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from templates_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from templates_in(item)


def compile_template(text: str, where: str, parameter: str) -> Compiled:
    """Parse, check and compile one template string; a refusal is a WorkflowError at `where`."""
    try:
        return compiled(text)
    except Refused as e:
        raise WorkflowError(where, str(e), parameter=parameter) from None


@functools.lru_cache(maxsize=512)
def compiled(text: str) -> Compiled:
    """Compile a template (cached); raises Refused with a one-line reason."""
    try:
        return _compile_checked(text)
    except RecursionError:
        # Jinja's parser and code generator recurse once per nesting level.
        raise Refused("template nested too deeply") from None


def _compile_checked(text: str) -> Compiled:
    """Parse, check the tree, compile."""
    from jinja2 import nodes
    from jinja2.environment import TemplateExpression
    from jinja2.exceptions import TemplateError, TemplateSyntaxError

    env = sandbox()
    try:
        tree = env.parse(text)
    except TemplateSyntaxError as e:
        raise Refused(f"template syntax error: {e.message} (line {e.lineno})") from e
    if any(not isinstance(node, nodes.Output) for node in tree.body):
        raise Refused("only {{ expressions }} are allowed, not {% statements %}")
    inputs, steps = _references(tree)
    expressions = [n for out in tree.body for n in out.nodes]
    native = len(expressions) == 1 and not isinstance(expressions[0], nodes.TemplateData)
    try:
        if not native:
            return Compiled(source=text, template=env.from_string(tree), expression=None,
                            inputs=inputs, steps=steps, output_of=None)
        # What Environment.compile_expression does, on the tree already checked above.
        body = [nodes.Assign(nodes.Name("result", "store"), expressions[0], lineno=1)]
        expression = TemplateExpression(env.from_string(nodes.Template(body, lineno=1)),
                                        undefined_to_none=False)
    except TemplateError as e:
        raise Refused(f"template error: {e.message}") from e
    return Compiled(source=text, template=None, expression=expression, inputs=inputs,
                    steps=steps, output_of=_output_of(expressions[0]))


def _references(tree: Node) -> tuple[frozenset[str], frozenset[str]]:
    """(input names, step ids) a template reads; refuses calls and any other variable."""
    from jinja2 import nodes

    inputs: set[str] = set()
    steps: set[str] = set()
    for ancestors, node in _walk(tree, ()):
        if isinstance(node, nodes.Call):
            raise Refused("function and method calls are not allowed; use filters")
        if not isinstance(node, nodes.Name):
            continue
        if node.name == "steps":
            steps.add(_step_reference(ancestors, node))
        elif node.name == "inputs":
            name = _subscript(ancestors[-1], node) if ancestors else None
            inputs.update([name] if name is not None else [])
        else:
            raise Refused(f"unknown variable {node.name!r} (use inputs.<name> or "
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
    raise Refused("refer to an earlier step's result as steps.<id>.output")


def _output_of(expression: Node) -> str | None:
    """The step id when `expression` is exactly `steps.<id>.output`."""
    from jinja2 import nodes

    for ancestors, node in _walk(expression, ()):
        if isinstance(node, nodes.Name) and node.name == "steps" and len(ancestors) == 2:
            return _step_reference(ancestors, node)
    return None


def check_names(template: Compiled, where: str, parameter: str, input_names: set[str],
                earlier: list[str]) -> None:
    """Inputs must be declared; steps must come earlier in the file."""
    unknown = sorted(template.inputs - input_names)
    if unknown:
        known = ", ".join(sorted(input_names)) or "none"
        raise WorkflowError(where, f"refers to input {unknown[0]!r}, which is not declared "
                                   f"(inputs: {known})", parameter=parameter)
    later = sorted(template.steps - set(earlier))
    if later:
        raise WorkflowError(where, f"refers to step {later[0]!r}, which is not an earlier step",
                            parameter=parameter)


def context(inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> dict[str, Any]:
    """What templates see: `inputs.<name>` and `steps.<id>.output`, as read-only Items."""
    steps = {step_id: Items({"output": output}) for step_id, output in outputs.items()}
    return {"inputs": Items(inputs), "steps": Items(steps)}


def render(value: Any, context: Mapping[str, Any], where: str, parameter: str) -> Any:
    """A value with its templates rendered: one `{{ expr }}` keeps its type, others are text."""
    if isinstance(value, list):
        return [render(item, context, where, parameter) for item in value]
    if isinstance(value, dict):
        return {key: render(item, context, where, parameter) for key, item in value.items()}
    if not has_template(value):
        return value
    template = compile_template(value, where, parameter)
    try:
        return _evaluate(template, context)
    except Refused as e:
        raise WorkflowError(where, str(e), parameter=parameter) from None


def _evaluate(template: Compiled, context: Mapping[str, Any]) -> Any:
    """Run a compiled template in the sandbox; every failure becomes Refused."""
    from jinja2.exceptions import SecurityError, TemplateError

    try:
        if template.expression is not None:
            result = _native(template.expression(**context), depth=0)
        else:
            assert template.template is not None
            result = _bounded_text(template.template.generate(**context))
    except SecurityError as e:
        raise Refused(f"refused by the template sandbox: {e}") from e
    except TemplateError as e:
        raise Refused(f"template error: {e}") from e
    # Errors of the expression itself (1/0, 'a' + 1, [][1]) are the template's, not ours.
    except (ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as e:
        raise Refused(f"template error: {type(e).__name__}: {e}") from e
    return result


def _native(value: Any, depth: int) -> Any:
    """A native result checked (no undefined, bounded) with each Items as a plain dict; lists
    and dicts are kept as they are unless they hold an Items (`[inputs]`)."""
    from jinja2 import Undefined

    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises
    if isinstance(value, str) and len(value) > MAX_RENDERED:
        raise Refused(f"renders more than {MAX_RENDERED} characters")
    if depth > MAX_DEPTH:
        raise Refused(f"result nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, Items):
        return _native(dict(value), depth)
    if isinstance(value, list | tuple):
        items = [_native(item, depth + 1) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, dict):
        entries = {key: _native(item, depth + 1) for key, item in value.items()}
        return value if all(entries[k] is v for k, v in value.items()) else entries
    return value


def _bounded_text(chunks: Iterator[str]) -> str:
    """Join rendered chunks, stopping at MAX_RENDERED characters."""
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_RENDERED:
            raise Refused(f"renders more than {MAX_RENDERED} characters")
        parts.append(chunk)
    return "".join(parts)
