"""Planning and running: inputs resolved, conditions decided and values rendered and checked
where they read inputs only; then steps run in order, each condition and value that waits for
an earlier output decided or rendered and checked just before its step. A skipped step's
output is None (null), for later steps and as the workflow's output when it is the last."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import actions
from ..errors import InputError, WorkflowError
from .conditions import Condition, decide, early
from .expressions import compiled, context, render
from .schema import Step, Workflow, input_value, load, validated


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """A step with every input-only value rendered and validated; `pending` waits for outputs.

    `runs` is True or False when known before the run (no condition, or one the inputs alone
    decide), None when the condition waits for an output. A step that will not run keeps its
    values as written: they are neither rendered nor checked.
    """

    id: str
    action: str
    values: Mapping[str, Any]
    pending: Mapping[str, frozenset[str]]
    condition: Condition | None = None
    runs: bool | None = True


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
    # step id -> why it was skipped ("{{ inputs.n > 3 }} was false")
    skipped: Mapping[str, str] = field(default_factory=dict)


# (step id, action name, what its output is missing, why it was skipped), called when a step
# is done or skipped; the last two are None for a step that ran completely.
StepHook = Callable[[str, str, str | None, str | None], None]


# --- planning


def plan(workflow: Workflow, inputs: Mapping[str, Any] | None = None) -> Plan:
    """Resolve the inputs, decide the conditions they alone decide, then render and validate
    every value of a step that may run and that depends only on them."""
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
    """Decide an input-only condition; render and check the values that need no step output
    (unless the step will not run), keeping the others pending."""
    where = f"{source}: step {step.id!r}"
    runs = _known(step.condition, names, where)
    pending = {name: needs for name, needs in step.needs.items() if needs}
    values = dict(step.values)
    if runs is not False:
        action = actions.get(step.action)
        for name in (name for name in step.values if name not in pending):
            values[name] = render(values[name], names, f"{where}: parameter {name}", name)
            validated(action, name, values[name], f"{where}: parameter {name}")
    return PlannedStep(id=step.id, action=step.action, values=values, pending=pending,
                       condition=step.condition, runs=runs)


def _known(condition: Condition | None, names: Mapping[str, Any], where: str) -> bool | None:
    """Whether a step runs, when the inputs alone decide it; None when it waits for outputs."""
    return True if condition is None else early(condition, names, where)


def describe(planned: Plan) -> dict[str, Any]:
    """The plan as `--dry-run` prints it; values waiting for a step's output are described."""
    return {
        "workflow": planned.workflow.name,
        "source": planned.workflow.source,
        "dry_run": True,
        "inputs": dict(planned.inputs),
        "steps": [_described(step) for step in planned.steps],
    }


def _described(step: PlannedStep) -> dict[str, Any]:
    """One step of the dry run: its condition (with its value when known) and its values."""
    shown: dict[str, Any] = {"id": step.id, "action": step.action}
    if step.condition is not None:
        shown["if"] = {"expression": step.condition.expression}
        if step.runs is None:
            shown["if"]["waits_for"] = sorted(step.condition.needs)
        else:
            shown["if"]["value"] = step.runs
    shown["with"] = {name: _shown(step, name, value) for name, value in step.values.items()}
    return shown


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
    """Run the steps in order; each waiting condition is decided and each waiting value is
    rendered and checked first."""
    outputs: dict[str, Any] = {}
    missing: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for step in planned.steps:
        names = context(planned.inputs, outputs)
        where = f"{planned.workflow.source}: step {step.id!r}"
        reason = _skip_reason(step, names, where)
        gap = None
        if reason is not None:
            outputs[step.id] = None
            skipped[step.id] = reason
        else:
            outputs[step.id], gap = _run_step(step, names, runtime, where)
            if gap is not None:
                missing[step.id] = gap
        if on_step is not None:
            on_step(step.id, step.action, gap, reason)
    return Outcome(outputs=outputs, output=outputs[planned.steps[-1].id], missing=missing,
                   skipped=skipped)


def _skip_reason(step: PlannedStep, names: Mapping[str, Any], where: str) -> str | None:
    """Why the step does not run, or None when it does."""
    if step.condition is None or step.runs is True:
        return None
    if step.runs is None and decide(step.condition, names, where):
        return None
    return step.condition.why_skipped()


def _run_step(step: PlannedStep, names: Mapping[str, Any], runtime: actions.Runtime,
              where: str) -> tuple[Any, str | None]:
    """Call a step's action: (its output, what the output is missing or None)."""
    action = actions.get(step.action)
    output = call(action, _rendered(step, names, where), runtime=runtime, where=where)
    return output, action.missing(output)


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
