"""The action registry: what a workflow step or a Lambda event can call, by name.

An action names its parameters (the snake_case names of its CLI command's options), validates
them with the same functions as the CLI (`ListRequest.build`, `InventoryRequest.build`,
`RemediationRequest.build`, `mail.Envelope.build` and the `params` validators), and runs on a
`Runtime`: the AWS connection and session, the mail settings and the default remediation
journal, chosen by the caller (CLI options, the Lambda environment), never by the workflow
file. Outputs are the JSON documents the CLI prints.

Adding an action is one entry in `REGISTRY`. Modules behind an action are imported only when
it is checked or run, so that a Lambda cold start pays only for what its event uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import aws, params
from .errors import InputError

if TYPE_CHECKING:
    from .mail import MailSettings

Check = Callable[[Any], object]


@dataclass(frozen=True, slots=True)
class Runtime:
    """What actions run on; the caller builds it from options or the environment."""

    connection: aws.Connection = field(default_factory=aws.Connection)
    session: aws.Session | None = None
    # None: the embedded default, an `outbox/` directory of .eml files.
    mail: MailSettings | None = None
    # Where aws.iam.remediate journals when its step names no journal (None: the default
    # file, ./iamkeys-journal.jsonl; the Lambda handler reads IAMKEYS_JOURNAL).
    journal: str | None = None


@dataclass(frozen=True, slots=True)
class Parameter:
    """One parameter: its name, whether a step must give it, and its validator."""

    name: str
    check: Check
    required: bool = False


@dataclass(frozen=True, slots=True)
class Action:
    """A callable unit: parameters, a builder of the validated request, and a runner."""

    name: str
    summary: str
    parameters: tuple[Parameter, ...]
    prepare: Callable[[Mapping[str, Any]], Any]
    execute: Callable[[Any, Runtime], Any]
    # What an output still worth passing on is missing (its errors), or None when complete.
    missing: Callable[[Any], str | None] = lambda output: None

    def parameter(self, name: str) -> Parameter | None:
        """The parameter called `name`, if the action has one."""
        return next((p for p in self.parameters if p.name == name), None)

    def check(self, name: str, value: Any) -> object:
        """Validate one value of a parameter (the value alone; rules between values wait)."""
        parameter = self.parameter(name)
        if parameter is None:
            known = ", ".join(p.name for p in self.parameters)
            raise InputError(name, f"is not a parameter of {self.name} (parameters: {known})")
        return parameter.check(value)

    def validate(self, values: Mapping[str, Any]) -> Any:
        """Every value checked, required ones present: the request `execute` takes."""
        for name, value in values.items():
            self.check(name, value)
        for parameter in self.parameters:
            if parameter.required and values.get(parameter.name) is None:
                raise InputError(parameter.name, f"is required by {self.name}")
        return self.prepare(values)

    def run(self, values: Mapping[str, Any], runtime: Runtime) -> Any:
        """Validate, then call: the output document."""
        return self.execute(self.validate(values), runtime)


# --- aws.iam.list_access_keys


def _list_prepare(values: Mapping[str, Any]) -> Any:
    """ListRequest.build, with the switches read as true/false (workflow inputs are text)."""
    from .listing import ListRequest

    return ListRequest.build(
        user_name=values.get("user_name"), marker=values.get("marker"),
        max_items=values.get("max_items"), regions=values.get("regions"),
        raw_xml=params.flag(values.get("raw_xml"), name="raw_xml"),
        all_pages=params.flag(values.get("all_pages"), name="all_pages"))


def _list_execute(request: Any, runtime: Runtime) -> Any:
    """The CLI's output: the JSON document, or with raw_xml the XML bodies as received."""
    from . import listing, serialize

    results = listing.run(request, connection=runtime.connection, session=runtime.session)
    if request.raw_xml:
        return b"\n".join(page for r in results for page in r.raw_pages).decode("utf-8")
    return serialize.listings(results)


# --- aws.iam.inventory


@dataclass(frozen=True, slots=True)
class _InventoryCall:
    """A validated aws.iam.inventory request, and where its baseline comes from."""

    request: Any
    state: params.StateLocation | None = None
    baseline: Any = None


def _inventory_prepare(values: Mapping[str, Any]) -> _InventoryCall:
    """InventoryRequest.build, the CLI's validator; `no_last_used` as the CLI spells it; the
    baseline (an earlier step's inventory) or the state location checked as the CLI does."""
    from .inventory import InventoryRequest

    raw = dict(values)
    skip = params.flag(raw.pop("no_last_used", None), name="no_last_used")
    location = params.state_location(_blank_is_none(raw.pop("state", None)))
    baseline = _blank_is_none(raw.pop("baseline", None))
    if baseline is not None and location is not None:
        raise InputError("baseline", "cannot be combined with state (the state is the "
                                     "baseline)")
    return _InventoryCall(request=InventoryRequest.build(**raw, last_used=not skip),
                          state=location,
                          baseline=None if baseline is None else _an_inventory(baseline,
                                                                               "baseline"))


def _blank_is_none(value: Any) -> Any:
    """None for blank text (a template that rendered nothing), else the value."""
    return None if isinstance(value, str) and not value.strip() else value


def _an_inventory(value: Any, name: str) -> Any:
    """An inventory document (usually `{{ steps.<id>.output }}`) as domain objects."""
    from . import documents

    try:
        return documents.inventory(value)
    except InputError as e:
        raise InputError(name, f"{e.rule} (pass an inventory step's output: "
                               "{{ steps.<id>.output }})") from e


def _inventory_missing(output: Any) -> str | None:
    """An inventory with Errors: the CLI's exit 3 message."""
    errors = output.get("Errors") if isinstance(output, Mapping) else None
    if not errors:
        return None
    return f"{len(errors)} item(s) could not be listed; see Errors in the output"


def _inventory_execute(call: _InventoryCall, runtime: Runtime) -> Any:
    """The inventory document, as `iamkeys inventory` prints it."""
    from . import inventory, serialize

    if call.state is not None:
        inv = inventory.run_with_state(call.request, call.state, connection=runtime.connection,
                                       session=runtime.session)
    else:
        inv = inventory.run(call.request, connection=runtime.connection,
                            session=runtime.session, baseline=call.baseline)
    return serialize.inventory(inv)


# --- aws.securityhub.import


@dataclass(frozen=True, slots=True)
class _Import:
    """A validated aws.securityhub.import request."""

    inventory: Any
    request: Any


def _import_prepare(values: Mapping[str, Any]) -> _Import:
    """The inventory to import, and the role to reach other accounts (the CLI's checks)."""
    from .securityhub import ImportRequest

    inventory = values.get("inventory")
    return _Import(
        inventory=None if inventory is None else _an_inventory(inventory, "inventory"),
        request=ImportRequest.build(role_name=values.get("role_name"),
                                    external_id=values.get("external_id")))


def _import_execute(call: _Import, runtime: Runtime) -> Any:
    """What Security Hub took, as `iamkeys securityhub-import` prints it."""
    from . import securityhub, serialize

    return serialize.securityhub_import(securityhub.import_inventory(
        call.inventory, call.request, connection=runtime.connection, session=runtime.session))


def _import_missing(output: Any) -> str | None:
    """Findings refused or not sent: the CLI's exit 3 message."""
    if not isinstance(output, Mapping) or output.get("Complete", True):
        return None
    missing = len(output.get("FailedFindings") or []) + sum(
        int(e.get("Findings", 0)) for e in output.get("Errors") or [])
    return f"{missing} finding(s) not imported; see FailedFindings and Errors in the output"


# --- aws.iam.remediate


def _remediate_prepare(values: Mapping[str, Any], *, between: bool = True) -> Any:
    """RemediationRequest.build, the CLI's validator; `no_last_used` as the CLI spells it."""
    from .remediate import RemediationRequest

    raw = dict(values)
    skip = params.flag(raw.pop("no_last_used", None), name="no_last_used")
    return RemediationRequest.build(**raw, last_used=not skip, between=between)


def _remediate_value(values: Mapping[str, Any]) -> Any:
    """One value checked alone: the rules between values ("nothing to do") wait for all."""
    return _remediate_prepare(values, between=False)


def _remediate_execute(request: Any, runtime: Runtime) -> Any:
    """The plan document, as `iamkeys remediate` prints it; with apply, each action's Result."""
    from dataclasses import replace

    from . import remediate, serialize

    if request.journal is None and runtime.journal is not None:
        request = replace(request, journal=runtime.journal)
    connection = runtime.connection
    pool = max(connection.max_pool_connections, request.scope.concurrency + 1)
    result = remediate.remediate(request, connection=replace(connection,
                                                              max_pool_connections=pool),
                                 session=runtime.session)
    return serialize.plan(result)


def _remediate_missing(output: Any) -> str | None:
    """An applied plan with actions not done: the CLI's exit 3 (or 1) message."""
    from collections import Counter

    if not isinstance(output, Mapping) or not output.get("Applied"):
        return None
    results = Counter(a.get("Result") for a in output.get("Actions", []))
    missed = sum(n for result, n in results.items() if result != "done")
    if not missed:
        return None
    return (f"{missed} of {sum(results.values())} action(s) not done: {results['skipped']} "
            f"skipped, {results['failed']} failed; see Result in the output")


# --- email.send


@dataclass(frozen=True, slots=True)
class _Mail:
    """A validated email.send request."""

    document: Mapping[str, Any]
    envelope: Any


def _mail_prepare(values: Mapping[str, Any]) -> _Mail:
    """mail.Envelope.build (the CLI's address and subject checks) and the result document."""
    from .mail import Envelope

    envelope = Envelope.build(to=values.get("to") or (), cc=values.get("cc") or (),
                              sender=values.get("from"), subject=values.get("subject"))
    return _Mail(document=_result(values.get("result")), envelope=envelope)


def _result(value: Any) -> Mapping[str, Any]:
    """The result to send: an iamkeys JSON document, usually `{{ steps.<id>.output }}`."""
    from . import documents

    try:
        documents.parse(value)
    except InputError as e:
        raise InputError("result", f"{e.rule} (pass an earlier step's output: "
                                   "{{ steps.<id>.output }})") from e
    assert isinstance(value, Mapping)
    return value


def _mail_execute(request: _Mail, runtime: Runtime) -> dict[str, Any]:
    """Send the message through the runtime's transport: the Delivery as a document."""
    from . import mail, serialize

    settings = runtime.mail or mail.MailSettings(connection=runtime.connection)
    envelope = request.envelope
    delivery = mail.send_result(request.document, to=envelope.to, cc=envelope.cc,
                                sender=envelope.sender, subject=envelope.subject,
                                settings=settings, session=runtime.session)
    return serialize.delivery(delivery)


def _addresses(name: str, required: bool = False) -> Check:
    """The CLI's check of a repeatable address option."""
    return lambda value: params.recipients(value, name=name, required=required)


def _sender(value: Any) -> object:
    """The From address (a display name allowed), or None for the transport's default."""
    return params.sender(value, name="from")


# --- the registry


def _alone(prepare: Callable[[Mapping[str, Any]], Any], name: str) -> Check:
    """Check one value with the action's own builder (every other parameter left out)."""
    return lambda value: prepare({name: value})


def _built_by(prepare: Callable[[Mapping[str, Any]], Any], *names: str) -> tuple[Parameter, ...]:
    """Optional parameters all checked by `prepare`."""
    return tuple(Parameter(name, _alone(prepare, name)) for name in names)


LIST_ACCESS_KEYS = Action(
    name="aws.iam.list_access_keys",
    summary="The IAM List Access Keys action: one user's access key ids (iamkeys "
            "list-access-keys).",
    parameters=_built_by(_list_prepare, "user_name", "marker", "max_items", "regions",
                         "raw_xml", "all_pages"),
    prepare=_list_prepare,
    execute=_list_execute,
)

INVENTORY = Action(
    name="aws.iam.inventory",
    summary="Every access key of the account, accounts or organization, with last use and "
            "findings (iamkeys inventory).",
    parameters=_built_by(_inventory_prepare, "accounts", "organization", "role_name",
                         "external_id", "path_prefix", "no_last_used", "concurrency",
                         "max_key_age", "max_unused", "max_inactive", "owner_tag", "baseline",
                         "state"),
    prepare=_inventory_prepare,
    execute=_inventory_execute,
    missing=_inventory_missing,
)

REMEDIATE = Action(
    name="aws.iam.remediate",
    summary="Plan the deactivation and deletion of keys from an inventory (its own, or a "
            "step's output); with apply: true, act, re-checking each key live and journaling "
            "every write (iamkeys remediate).",
    parameters=_built_by(_remediate_value, "accounts", "organization", "role_name",
                         "external_id", "path_prefix", "no_last_used", "concurrency",
                         "max_key_age", "max_unused", "max_inactive", "inventory", "plan",
                         "deactivate", "delete_inactive_after", "grace", "exempt_tag",
                         "max_actions", "journal", "apply"),
    prepare=_remediate_prepare,
    execute=_remediate_execute,
    missing=_remediate_missing,
)

EMAIL_SEND = Action(
    name="email.send",
    summary="Email a result as an HTML table with JSON and CSV attachments (iamkeys send-email).",
    parameters=(
        Parameter("to", _addresses("to", required=True), required=True),
        Parameter("cc", _addresses("cc")),
        Parameter("from", _sender),
        Parameter("subject", lambda value: params.header_text(value, name="subject")),
        Parameter("result", _result, required=True),
    ),
    prepare=_mail_prepare,
    execute=_mail_execute,
)

SECURITYHUB_IMPORT = Action(
    name="aws.securityhub.import",
    summary="Import an inventory's findings into AWS Security Hub, archiving those resolved "
            "since its baseline (iamkeys securityhub-import).",
    parameters=(
        Parameter("inventory", lambda value: _an_inventory(value, "inventory"), required=True),
        *_built_by(_import_prepare, "role_name", "external_id"),
    ),
    prepare=_import_prepare,
    execute=_import_execute,
    missing=_import_missing,
)

REGISTRY: Mapping[str, Action] = {
    a.name: a for a in (LIST_ACCESS_KEYS, INVENTORY, REMEDIATE, EMAIL_SEND,
                                   SECURITYHUB_IMPORT)}


def get(name: Any) -> Action:
    """The action called `name`."""
    action = REGISTRY.get(name) if isinstance(name, str) else None
    if action is None:
        shown = repr(name) if isinstance(name, str) else "missing or not a string"
        raise InputError("action", f"unknown action {shown} (actions: {', '.join(REGISTRY)})")
    return action
