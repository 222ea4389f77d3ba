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

The modules, each importing only those above it:

    limits       sizes and counts a file, an input and a template are held to
    loading      a file or a library workflow's text; YAML through safe_load, within limits
    sandbox      the Jinja2 environment templates run in
    expressions  templates: compiled and checked once (what they read), rendered in the sandbox
    schema       the model (Input, Step, Workflow) and the validation of a whole file
    runner       plan, describe (the dry run), run, execute
"""

from .expressions import render
from .loading import library
from .runner import (
    Outcome,
    Plan,
    PlannedStep,
    StepHook,
    call,
    describe,
    execute,
    plan,
    resolve_inputs,
    run,
)
from .schema import Input, Step, Workflow, load, parse

__all__ = ["Input", "Outcome", "Plan", "PlannedStep", "Step", "StepHook", "Workflow", "call",
           "describe", "execute", "library", "load", "parse", "plan", "render",
           "resolve_inputs", "run"]
