"""Planning and running: inputs resolved, values rendered and checked, then steps called in
order, each value that waits for an earlier output rendered and checked just before its call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import actions
from ..errors import InputError, WorkflowError
from .expressions import compiled, context, render
from .schema import Step, Workflow, input_value, load, validated


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


# --- planning


def plan(workflow: Workflow, inputs: Mapping[str, Any] | None = None) -> Plan:
    """Resolve the inputs, then render and validate every value that depends only on them."""
    resolved = resolve_inputs(workflow, inputs or {})
    names = context(resolved, {})
    planned = tuple(_plan_step(step, names, workflow.source) for step in workflow.steps)
    return Plan(workflow=workflow, inputs=resolved, steps=planned)


def resolve_inputs(workflow: Workflow, given: Mapping[str, Any]) -> dict[str, Any]:
    """Given inputs over defaults; unknown names and missing required inputs are errors."""
    declared = {i.name: i for i in workflow.inputs}
    for name in given:
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise InputError("input", f"{name!r} is not an input of workflow {workflow.name} "
                                      f"(inputs: {known})")
        input_value(given[name], f"{workflow.source}: input {name!r}")
    for spec in workflow.inputs:
        if spec.required and given.get(spec.name) is None:
            raise InputError("input", f"{spec.name!r} is required by workflow {workflow.name}")
    return {name: given.get(name, spec.default) for name, spec in declared.items()}


def _plan_step(step: Step, names: Mapping[str, Any], source: str) -> PlannedStep:
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
        values[name] = render(raw, names, where, name)
        validated(action, name, values[name], where)
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
    if isinstance(value, str) and compiled(value).output_of is not None:
        return f"<output of step {compiled(value).output_of}>"
    return f"<{value} with the output of step {' and '.join(sorted(needs))}>"


# --- running


def run(planned: Plan, *, runtime: actions.Runtime, on_step: StepHook | None = None) -> Outcome:
    """Run the steps in order; each waits-for-output value is rendered and checked first."""
    outputs: dict[str, Any] = {}
    missing: dict[str, str] = {}
    output: Any = None
    for step in planned.steps:
        action = actions.get(step.action)
        names = context(planned.inputs, outputs)
        where = f"{planned.workflow.source}: step {step.id!r}"
        output = call(action, _rendered(step, names, where), runtime=runtime, where=where)
        outputs[step.id] = output
        gap = action.missing(output)
        if gap is not None:
            missing[step.id] = gap
        if on_step is not None:
            on_step(step.id, step.action, gap)
    return Outcome(outputs=outputs, output=output, missing=missing)


def _rendered(step: PlannedStep, names: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The step's values with the pending ones rendered now that earlier outputs exist."""
    return {name: render(value, names, f"{where}: parameter {name}", name)
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
