"""Workflow files: load, validate, plan and run a sequence of registry actions.

A workflow is YAML with `name`, `description`, `inputs` and ordered `steps`; each step has an
`id`, an optional `if`, and calls an `action` from `iamkeys.actions` `with:` parameters whose
string values may be Jinja2 expressions over `inputs` and earlier `steps.<id>.output`:

    name: keys-report
    inputs:
      user_name: {required: true}
      to: {default: null}
    steps:
      - id: keys
        action: aws.iam.list_access_keys
        with: {user_name: "{{ inputs.user_name }}"}
      - id: email
        if: "{{ inputs.to is not none and steps.keys.output.AccessKeyMetadata | length > 0 }}"
        action: email.send
        with: {to: "{{ inputs.to }}", result: "{{ steps.keys.output }}"}

Step ids are a-z, 0-9, _ and - (starting with a letter, at most 64 characters), input names the
same without -; `keys`, `items` or `values` are names like any other, and an id with a - is
reached as `steps['my-step'].output`. A value that is one `{{ expression }}` alone keeps its
type (a list, a number, a whole output); any other template renders to text.

`if:` is true, false, or one `{{ expression }}` that renders to a boolean (a comparison, a
test such as `is none`, `not`); anything else, the string 'true' included, is an error naming
the file and step. False skips the step: its output is null, for later steps (`steps.<id>.output
is none`) and as the workflow's output when it is the last step. The life of a workflow:

    load(reference)    the file (or a library name) -> Workflow; YAML limits, schema, actions,
                       parameter names, literal values and template syntax are all checked here,
                       and every template may read declared inputs and EARLIER steps only
    plan(workflow, inputs)
                       inputs resolved; every condition and value that depends only on inputs is
                       rendered and validated (a step that will not run is left as written)
                       -> Plan (what `--dry-run` prints, each condition with its value if known)
    run(plan, runtime) each step: a condition that depends on earlier outputs is decided, then
                       values that depend on them are rendered and validated, then the action is
                       called -> Outcome

Every error before a call is a `WorkflowError` (an InputError, exit 2) naming file, step and
parameter (or `if`). Transport and AWS settings are never read from the file: they come in the
`Runtime`.

The modules, each importing only those above it:

    limits       sizes and counts a file, an input and a template are held to
    loading      a file or a library workflow's text; YAML through safe_load, within limits
    sandbox      the Jinja2 environment templates run in, and Items, the mappings they see
    expressions  templates: compiled and checked once (what they read), rendered in the sandbox
    conditions   `if:`: checked as written, decided to a boolean
    schema       the model (Input, Step, Workflow) and the validation of a whole file
    runner       plan, describe (the dry run), run, execute
"""

from .conditions import Condition
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

__all__ = ["Condition", "Input", "Outcome", "Plan", "PlannedStep", "Step", "StepHook",
           "Workflow", "call", "describe", "execute", "library", "load", "parse", "plan",
           "render", "resolve_inputs", "run"]
