"""deploy/: what the templates grant, and what the fan-out state machine sends the function.

Every IAM policy in every template is walked, through both branches of every Fn::If: no action
is a wildcard, no Allow resource is "*" unless AWS offers no resource type for its actions (read
from cfn-lint's copy of the Service Authorization Reference), and every other wildcard in a
resource ARN is one listed below with its reason. The state machine is run on paper: its
JSONPath parameters and intrinsic functions are evaluated for one execution, and the events it
would send the Lambda function are compared with the contract in docs/deploy.md.
(cfn-lint and asl-validator themselves run in scripts/check-deploy.)
"""

from __future__ import annotations

import importlib.resources
import itertools
import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from project_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
TEMPLATES = sorted(DEPLOY.glob("*.yaml"))


check_deploy = load_script("check_deploy")
build_lambda = load_script("build_lambda")


def load(path: Path) -> dict[str, Any]:
    """A template as plain JSON data, short-form intrinsics as their long form."""
    plain: dict[str, Any] = json.loads(json.dumps(check_deploy.load_template(path)))
    return plain


CENTRAL = load(DEPLOY / "central.yaml")
MEMBER = load(DEPLOY / "member.yaml")
DEFINITION: dict[str, Any] = json.loads((DEPLOY / "fanout.asl.json").read_text())

# Actions for which AWS defines no resource type, so that a policy must say "*":
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html
# (ListAccounts, ListUsers and GetAccountSummary have an empty "Resource types" column;
# test_star_only_actions_have_no_resource_type checks this list against cfn-lint's copy.)
STAR_ONLY = {"organizations:ListAccounts", "iam:ListUsers", "iam:GetAccountSummary"}
# Wildcards allowed inside a resource ARN, and why nothing narrower works.
WILDCARDS = {
    # Every user of the account: the inventory lists all of them (users' names are not known
    # in advance); the account itself is always ${AWS::AccountId}.
    r"^arn:\$\{AWS::Partition\}:iam::\$\{AWS::AccountId\}:user/\*$": "this account's users",
    # The member role in any member account: accounts join and leave the organization; with
    # OrganizationId set, aws:ResourceOrgID narrows it to the organization.
    r"^arn:\$\{AWS::Partition\}:iam::\*:role/\$\{MemberRoleName\}$": "the member role",
    # This run's files, the state and the journal: keys are made per run.
    r"^\$\{StateBucket\.Arn\}/(runs|state|journal)/\*$": "a prefix of the state bucket",
    # The function's versions and aliases, which Step Functions and Scheduler may invoke.
    r"^\$\{Function\.Arn\}:\*$": "the function's versions",
    # The fan-out's own executions and the Distributed Map's child executions.
    r"^arn:\$\{AWS::Partition\}:states:\$\{AWS::Region\}:\$\{AWS::AccountId\}:execution:"
    r"\$\{AWS::StackName\}-fanout[:/]\*$": "the state machine's executions",
}
READ_ONLY_CENTRAL = {"logs:CreateLogStream", "logs:PutLogEvents", "organizations:ListAccounts",
                     "iam:ListUsers", "iam:GetAccountSummary", "iam:ListAccessKeys",
                     "iam:GetAccessKeyLastUsed", "iam:ListUserTags", "sts:AssumeRole",
                     "s3:ListBucket", "s3:GetObject", "s3:PutObject"}
READ_ONLY_MEMBER = {"iam:ListUsers", "iam:GetAccountSummary", "iam:ListAccessKeys",
                    "iam:GetAccessKeyLastUsed", "iam:ListUserTags"}
REMEDIATION = {"iam:UpdateAccessKey", "iam:DeleteAccessKey"}


@dataclass(frozen=True)
class Statement:
    """One policy statement, where it is, and the Fn::If branches it sits under."""

    template: str
    resource: str
    body: Mapping[str, Any]
    conditions: tuple[tuple[str, bool], ...]

    def actions(self) -> list[str]:
        """The statement's Action as a list."""
        action = self.body.get("Action", [])
        return [action] if isinstance(action, str) else list(action)

    def resources(self) -> list[Any]:
        """The statement's Resource as a list."""
        resource = self.body.get("Resource", [])
        return resource if isinstance(resource, list) else [resource]


def _walk(node: Any, conditions: tuple[tuple[str, bool], ...]
          ) -> Iterator[tuple[Mapping[str, Any], tuple[tuple[str, bool], ...]]]:
    """Every statement under `node`, with the Fn::If branches that lead to it."""
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, conditions)
    elif isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, then, otherwise = node["Fn::If"]
            yield from _walk(then, (*conditions, (name, True)))
            yield from _walk(otherwise, (*conditions, (name, False)))
        elif "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node, conditions
        else:
            for value in node.values():
                yield from _walk(value, conditions)


def statements(template: Mapping[str, Any], name: str) -> list[Statement]:
    """Every policy statement of every resource."""
    return [Statement(name, logical_id, body, conditions)
            for logical_id, resource in template["Resources"].items()
            for body, conditions in _walk(resource.get("Properties", {}), ())]


ALL = statements(CENTRAL, "central.yaml") + statements(MEMBER, "member.yaml")
GRANTS = [s for s in ALL if s.body["Effect"] == "Allow" and "Principal" not in s.body]


def _ids(items: list[Statement]) -> list[str]:
    return [f"{s.template}:{s.resource}:{s.body.get('Sid', '?')}" for s in items]


def test_the_walk_finds_every_policy() -> None:
    by_resource = {(s.template, s.resource) for s in ALL}
    assert by_resource == {
        ("central.yaml", "StateBucketPolicy"), ("central.yaml", "FunctionRole"),
        ("central.yaml", "StateMachineRole"), ("central.yaml", "SchedulerRole"),
        ("member.yaml", "MemberRole")}
    assert len(GRANTS) == 19


@pytest.mark.parametrize("statement", ALL, ids=_ids(ALL))
def test_no_wildcard_action_and_no_negations(statement: Statement) -> None:
    assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement.body)
    for action in statement.actions():
        assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action) or (
            statement.body["Effect"] == "Deny" and action == "s3:*"), action


def test_the_only_wildcard_action_is_the_tls_deny() -> None:
    [deny] = [s for s in ALL if s.body["Effect"] == "Deny"]
    assert deny.actions() == ["s3:*"]
    assert deny.body["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny.resources() == [{"Fn::GetAtt": ["StateBucket", "Arn"]},
                                {"Fn::Sub": "${StateBucket.Arn}/*"}]


def _service_reference() -> dict[str, Any]:
    """cfn-lint's copy of the Service Authorization Reference: actions and resource types."""
    path = importlib.resources.files("cfnlint.data.AdditionalSpecs") / "Policies.json"
    reference: dict[str, Any] = json.loads(path.read_text())
    return reference


def _resource_types(action: str) -> list[str] | None:
    """The resource types AWS defines for an action; None when the action is unknown."""
    service, name = action.split(":")
    entry = _service_reference()[service]["Actions"].get(name.lower())
    return None if entry is None else list(entry.get("Resources", []))


def test_star_only_actions_have_no_resource_type() -> None:
    assert {action: _resource_types(action) for action in STAR_ONLY} == dict.fromkeys(
        STAR_ONLY, [])


@pytest.mark.parametrize("statement", GRANTS, ids=_ids(GRANTS))
def test_resources_are_as_narrow_as_aws_allows(statement: Statement) -> None:
    actions = statement.actions()
    resources = statement.resources()
    for action in actions:
        assert _resource_types(action) is not None, f"{action} is not an AWS action"
    if "*" in resources:
        # Only for actions without a resource type, and then alone.
        assert resources == ["*"] and set(actions) <= STAR_ONLY, actions
        return
    assert not set(actions) & STAR_ONLY
    for resource in resources:
        text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else resource
        if isinstance(text, list):
            text = text[0]
        if "*" in text:
            assert any(re.fullmatch(pattern, text) for pattern in WILDCARDS), text


def _granted(template: str, resource: str) -> dict[str, set[tuple[tuple[str, bool], ...]]]:
    """Action -> the Fn::If branch sets under which `resource`'s policies grant it."""
    found: dict[str, set[tuple[tuple[str, bool], ...]]] = {}
    for statement in GRANTS:
        if (statement.template, statement.resource) == (template, resource):
            for action in statement.actions():
                found.setdefault(action, set()).add(statement.conditions)
    return found


def test_the_function_is_read_only_by_default() -> None:
    granted = _granted("central.yaml", "FunctionRole")
    unconditional = {action for action, branches in granted.items() if () in branches}
    assert unconditional == READ_ONLY_CENTRAL
    assert granted["iam:UpdateAccessKey"] == granted["iam:DeleteAccessKey"] == {
        (("RemediationEnabled", True),)}
    assert granted["ses:SendRawEmail"] == {(("UseSes", True),)}
    assert granted["secretsmanager:GetSecretValue"] == {(("HasSmtpSecret", True),)}
    assert granted["securityhub:BatchImportFindings"] == {(("SecurityHubEnabled", True),)}
    assert set(granted) == READ_ONLY_CENTRAL | REMEDIATION | {
        "ses:SendRawEmail", "secretsmanager:GetSecretValue", "securityhub:BatchImportFindings"}


def test_the_member_role_is_read_only_by_default() -> None:
    granted = _granted("member.yaml", "MemberRole")
    assert {a for a, branches in granted.items() if () in branches} == READ_ONLY_MEMBER
    assert set(granted) == READ_ONLY_MEMBER | REMEDIATION
    for action in REMEDIATION:
        assert granted[action] == {(("RemediationEnabled", True),)}


@pytest.mark.parametrize("template", [CENTRAL, MEMBER], ids=["central", "member"])
def test_remediation_is_a_parameter_defaulting_to_off(template: dict[str, Any]) -> None:
    assert template["Parameters"]["EnableRemediation"]["Default"] == "false"
    assert template["Conditions"]["RemediationEnabled"] == {
        "Fn::Equals": [{"Ref": "EnableRemediation"}, "true"]}


def test_the_conditions_mean_what_their_names_say() -> None:
    conditions = CENTRAL["Conditions"]
    assert conditions["UseSes"] == {"Fn::Equals": [{"Ref": "MailTransport"}, "ses"]}
    assert conditions["HasSmtpSecret"] == {"Fn::And": [
        {"Condition": "UseSmtp"},
        {"Fn::Not": [{"Fn::Equals": [{"Ref": "SmtpPasswordSecretArn"}, ""]}]}]}
    assert conditions["SecurityHubEnabled"] == {
        "Fn::Equals": [{"Ref": "EnableSecurityHub"}, "true"]}


def _statement(template: str, resource: str, sid: str) -> Statement:
    [found] = [s for s in GRANTS if (s.template, s.resource, s.body.get("Sid")) == (
        template, resource, sid)]
    return found


def test_the_secret_and_the_sender_are_exactly_the_parameters() -> None:
    secret = _statement("central.yaml", "FunctionRole", "ReadTheSmtpPassword")
    assert secret.resources() == [{"Ref": "SmtpPasswordSecretArn"}]
    ses = _statement("central.yaml", "FunctionRole", "SendAsTheSender")
    assert ses.resources()[0] == {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:"
                                             "${AWS::AccountId}:identity/${MailFrom}"}
    assert ses.body["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "MailFrom"}}}
    assume = _statement("central.yaml", "FunctionRole", "AssumeTheMemberRoles")
    assert assume.body["Condition"] == {"Fn::If": [
        "HasOrganizationId", {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}},
        {"Ref": "AWS::NoValue"}]}


def test_the_smtp_password_is_never_an_environment_variable() -> None:
    variables = CENTRAL["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    assert [name for name in variables if "PASSWORD" in name] == ["IAMKEYS_SMTP_PASSWORD_SECRET"]
    assert variables["IAMKEYS_SMTP_PASSWORD_SECRET"] == {"Fn::If": [
        "HasSmtpSecret", {"Ref": "SmtpPasswordSecretArn"}, {"Ref": "AWS::NoValue"}]}
    # No parameter can carry a password itself.
    assert [p for p in CENTRAL["Parameters"] if "password" in p.lower()] == [
        "SmtpPasswordSecretArn"]


def test_the_member_role_trusts_only_the_central_role_with_the_external_id() -> None:
    role = MEMBER["Resources"]["MemberRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Sid": "CentralFunctionOnly", "Effect": "Allow",
        "Principal": {"AWS": {"Ref": "CentralRoleArn"}}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}}]
    assert role["RoleName"] == {"Ref": "MemberRoleName"}
    assert MEMBER["Parameters"]["ExternalId"]["NoEcho"] is True
    assert CENTRAL["Parameters"]["ExternalId"]["NoEcho"] is True
    assert (MEMBER["Parameters"]["MemberRoleName"]["Default"]
            == CENTRAL["Parameters"]["MemberRoleName"]["Default"])


@pytest.mark.parametrize(("resource", "service"), [
    ("FunctionRole", "lambda.amazonaws.com"), ("StateMachineRole", "states.amazonaws.com"),
    ("SchedulerRole", "scheduler.amazonaws.com")])
def test_each_service_role_trusts_its_service(resource: str, service: str) -> None:
    [trust] = CENTRAL["Resources"][resource]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"]
    assert (trust["Principal"], trust["Action"]) == ({"Service": service}, "sts:AssumeRole")


def test_the_schedule_may_only_start_its_target() -> None:
    granted = _granted("central.yaml", "SchedulerRole")
    assert granted == {"states:StartExecution": {(("ScheduleStateMachine", True),)},
                       "lambda:InvokeFunction": {(("ScheduleStateMachine", False),)}}
    target = CENTRAL["Resources"]["Schedule"]["Properties"]["Target"]
    assert target["Arn"] == {"Fn::If": ["ScheduleStateMachine", {"Ref": "StateMachine"},
                                        {"Fn::GetAtt": ["Function", "Arn"]}]}
    start = _statement("central.yaml", "SchedulerRole", "StartTheFanOut")
    assert start.resources() == [{"Ref": "StateMachine"}]


def test_the_scheduled_function_event_is_a_valid_event() -> None:
    """The function target's input, with example values, is JSON the handler accepts."""
    from iamkeys.aws_lambda import parse_event

    template = CENTRAL["Resources"]["Schedule"]["Properties"]["Target"]["Input"]["Fn::If"][2]
    values = {"MemberRoleName": "iamkeys-member", "ExternalId": "example-external-id",
              "MailTo": "a@example.com,b@example.com", "MailFrom": "iamkeys@example.com"}
    event = json.loads(re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template["Fn::Sub"]))
    parsed = parse_event(event)
    assert parsed.workflow == "inventory-findings-email"
    assert dict(parsed.inputs) == {"organization": True, "role_name": "iamkeys-member",
                                   "external_id": "example-external-id",
                                   "to": "a@example.com,b@example.com",
                                   "from": "iamkeys@example.com"}


def test_the_state_bucket_is_versioned_encrypted_and_private() -> None:
    bucket = CENTRAL["Resources"]["StateBucket"]
    properties = bucket["Properties"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    [rule] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert properties["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"],
        True)
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_the_function_matches_the_package() -> None:
    function = CENTRAL["Resources"]["Function"]["Properties"]
    assert function["Handler"] == "iamkeys.aws_lambda.handler"
    from iamkeys import aws_lambda

    assert callable(aws_lambda.handler)
    runtimes = CENTRAL["Parameters"]["Runtime"]["AllowedValues"]
    assert runtimes == [f"python{v}" for v in build_lambda.PYTHON_VERSIONS]
    assert CENTRAL["Parameters"]["Runtime"]["Default"] == "python3.11"
    architectures = CENTRAL["Parameters"]["Architecture"]["AllowedValues"]
    assert [a.replace("arm64", "aarch64") for a in architectures] == [
        p.removeprefix("manylinux2014_") for p in build_lambda.PLATFORMS]
    assert function["Code"] == {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}}


# --- the state machine, run on paper ---------------------------------------------------------

EXECUTION = "run-1"
ACCOUNTS = ["111111111111", "222222222222", "333333333333"]


def _substitutions() -> dict[str, str]:
    return dict(check_deploy.substitution_values(CENTRAL))


def test_every_placeholder_is_a_substitution() -> None:
    machine = CENTRAL["Resources"]["StateMachine"]["Properties"]
    used = set(check_deploy.PLACEHOLDER.findall((DEPLOY / "fanout.asl.json").read_text()))
    assert used == set(machine["DefinitionSubstitutions"])
    assert machine["DefinitionS3Location"] == {"Bucket": {"Ref": "CodeBucket"},
                                               "Key": {"Ref": "DefinitionKey"}}


def test_a_missing_substitution_is_named() -> None:
    with pytest.raises(check_deploy.CheckError, match="no DefinitionSubstitutions for Nope"):
        check_deploy.substitute("${Partition} ${Nope}", {"Partition": "aws"})


def _arguments(text: str) -> list[str]:
    """The comma-separated arguments of an intrinsic function call (quotes kept)."""
    parts, depth, quoted, current = [], 0, False, ""
    for char in text:
        if char == "'" and not current.endswith("\\"):
            quoted = not quoted
        if not quoted and char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0) if not quoted else 0
        current += char
    return [*parts, current.strip()] if current.strip() else parts


def _path(expression: str, data: Any, context: Mapping[str, Any]) -> Any:
    """A JSONPath of the subset the definition uses: $, $.a.b, $$.a.b, intrinsics."""
    call = re.fullmatch(r"(States\.\w+)\((.*)\)", expression)
    if call:
        values = [arg[1:-1].replace("\\'", "'") if arg.startswith("'") else
                  _path(arg, data, context) for arg in _arguments(call.group(2))]
        if call.group(1) == "States.Format":
            template, *rest = values
            return re.sub(r"\{\}", lambda _: str(rest.pop(0)), template)
        assert call.group(1) == "States.StringToJson", call.group(1)
        return json.loads(values[0])
    root, dotted = (context, expression[2:]) if expression.startswith("$$") else (
        data, expression[1:])
    for key in filter(None, dotted.split(".")):
        root = root[key]
    return root


def _resolve(template: Any, data: Any, context: Mapping[str, Any]) -> Any:
    """A Parameters/Payload block with its `.$` fields evaluated."""
    if isinstance(template, dict):
        return {key.removesuffix(".$"): _path(value, data, context) if key.endswith(".$")
                else _resolve(value, data, context) for key, value in template.items()}
    if isinstance(template, list):
        return [_resolve(item, data, context) for item in template]
    return template


@pytest.fixture
def definition() -> dict[str, Any]:
    """The definition as Step Functions receives it from a stack with default parameters."""
    text = check_deploy.substitute((DEPLOY / "fanout.asl.json").read_text(), _substitutions())
    loaded: dict[str, Any] = json.loads(text)
    return loaded


CONTEXT = {"Execution": {"Name": EXECUTION}}


def _prepared(definition: dict[str, Any]) -> dict[str, Any]:
    state = definition["States"][definition["StartAt"]]
    assert state["Type"] == "Pass" and definition["StartAt"] == "Prepare"
    prepared: dict[str, Any] = _resolve(state["Parameters"], {}, CONTEXT)
    return prepared


def _payload(state: Mapping[str, Any], data: Any) -> Any:
    assert state["Type"] == "Task"
    assert state["Resource"] == "arn:aws:states:::lambda:invoke"
    parameters = _resolve(state["Parameters"], data, CONTEXT)
    assert parameters["FunctionName"] == check_deploy.EXAMPLES["FunctionArn"]
    return parameters["Payload"]


def test_settings_come_from_the_stack_parameters(definition: dict[str, Any]) -> None:
    assert _prepared(definition)["settings"] == {
        "batch_size": 25, "max_concurrency": 10, "digest": True, "security_hub": False,
        "remediation": False, "remediation_apply": False}


def test_the_events_sent_to_the_function(definition: dict[str, Any]) -> None:
    bucket = check_deploy.EXAMPLES["StateBucket"]
    run = f"s3://{bucket}/runs/{EXECUTION}/"
    data = _prepared(definition)
    states = definition["States"]
    assert _payload(states["ListAccounts"], data) == {
        "action": "aws.organizations.accounts", "output_uri": run + "accounts.json"}

    inventory = states["Inventory"]
    assert inventory["Type"] == "Map" and inventory["Next"] == "Merge"
    assert inventory["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED",
                                                             "ExecutionType": "STANDARD"}
    reader = inventory["ItemReader"]
    assert reader["Resource"] == "arn:aws:states:::s3:getObject"
    assert reader["ReaderConfig"] == {"InputType": "JSON"}
    assert _resolve(reader["Parameters"], data, CONTEXT) == {
        "Bucket": bucket, "Key": f"runs/{EXECUTION}/accounts.json"}
    batcher = inventory["ItemBatcher"]
    assert _path(batcher["MaxItemsPerBatchPath"], data, CONTEXT) == 25
    assert _path(inventory["MaxConcurrencyPath"], data, CONTEXT) == 10
    assert inventory["ToleratedFailurePercentage"] == 0
    assert inventory["ResultPath"] is None  # the parts are in S3; the payload stays small
    batch = {"Items": ACCOUNTS, "BatchInput": _resolve(batcher["BatchInput"], data, CONTEXT)}
    child = inventory["ItemProcessor"]["States"][inventory["ItemProcessor"]["StartAt"]]
    assert child["End"] is True
    assert _payload(child, batch) == {
        "action": "aws.iam.inventory",
        "with": {"accounts": ACCOUNTS, "role_name": "iamkeys-member",
                 "external_id": check_deploy.EXAMPLES["ExternalId"]},
        "output_prefix": run + "parts/"}

    assert _payload(states["Merge"], data) == {
        "action": "inventory.merge",
        "with": {"parts_prefix": run + "parts/", "state": f"s3://{bucket}/state/inventory.json"},
        "output_uri": run + "inventory.json"}
    merged = {**data, "merged": {"OutputUri": run + "inventory.json", "Summary": {},
                                 "Errors": 0}}
    assert _payload(states["Digest"], merged) == {
        "workflow": "daily-digest", "input_uri": run + "inventory.json",
        "inputs": {"to": check_deploy.EXAMPLES["MailTo"],
                   "from": check_deploy.EXAMPLES["MailFrom"]}}
    assert _payload(states["SecurityHub"], merged) == {
        "action": "aws.securityhub.import", "input_uri": run + "inventory.json",
        "output_uri": run + "securityhub.json"}
    assert _payload(states["Remediate"], merged) == {
        "action": "aws.iam.remediate", "input_uri": run + "inventory.json",
        "with": {"apply": False, "journal": f"s3://{bucket}/journal/iamkeys-journal.jsonl",
                 "role_name": "iamkeys-member",
                 "external_id": check_deploy.EXAMPLES["ExternalId"]},
        "output_uri": run + "remediation.json"}


def _lambda_tasks(states: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        if state["Type"] == "Map":
            yield from _lambda_tasks(state["ItemProcessor"]["States"])


def test_every_invocation_retries_lambda_errors_only(definition: dict[str, Any]) -> None:
    tasks = dict(_lambda_tasks(definition["States"]))
    assert set(tasks) == {"ListAccounts", "InventoryBatch", "Merge", "Digest", "SecurityHub",
                          "Remediate"}
    for name, task in tasks.items():
        [retry] = task["Retry"]
        assert {"Lambda.ServiceException", "Lambda.TooManyRequestsException",
                "Lambda.SdkClientException"} <= set(retry["ErrorEquals"]), name
        # The function's own errors (InputError, AwsError, ...) and timeouts are not retried.
        assert all(e.startswith("Lambda.") for e in retry["ErrorEquals"]), name
        assert "Catch" not in task, name
        # Only the summary is kept: the documents stay in S3.
        assert "ResultSelector" in task, name


def _visit(definition: dict[str, Any], settings: Mapping[str, Any], errors: int) -> list[str]:
    """The states one execution passes through after Merge, for these settings."""
    data = {"settings": settings, "merged": {"Errors": errors}}
    states, name, seen = definition["States"], "DigestEnabled", []
    while True:
        seen.append(name)
        state = states[name]
        if state["Type"] in ("Succeed", "Fail"):
            return seen
        if state["Type"] == "Choice":
            name = state["Default"]
            for choice in state["Choices"]:
                value = _path(choice["Variable"], data, CONTEXT)
                if ("BooleanEquals" in choice and value is choice["BooleanEquals"]) or (
                        "NumericGreaterThan" in choice and value > choice["NumericGreaterThan"]):
                    name = choice["Next"]
                    break
        else:
            name = state["Next"]


@pytest.mark.parametrize(("digest", "security_hub", "remediation", "tasks"), [
    (True, False, False, ["Digest"]),
    (False, False, False, []),
    (False, True, False, ["SecurityHub"]),
    (False, False, True, ["Remediate"]),
    (True, True, True, ["Digest", "SecurityHub", "Remediate"]),
])
def test_only_the_enabled_steps_run(definition: dict[str, Any], digest: bool,
                                    security_hub: bool, remediation: bool,
                                    tasks: list[str]) -> None:
    settings = {"digest": digest, "security_hub": security_hub, "remediation": remediation}
    seen = _visit(definition, settings, errors=0)
    assert [name for name in seen if definition["States"][name]["Type"] == "Task"] == tasks
    assert seen[-1] == "Done"


def test_a_partial_inventory_fails_the_run_after_the_report(definition: dict[str, Any]) -> None:
    seen = _visit(definition, {"digest": True, "security_hub": False, "remediation": False},
                  errors=2)
    assert seen[-2:] == ["Complete", "Incomplete"] and "Digest" in seen
    failure = definition["States"]["Incomplete"]
    assert failure["Error"] == "iamkeys.IncompleteInventory"
    data = {"merged": {"Errors": 2, "OutputUri": "s3://b/runs/run-1/inventory.json"}}
    assert _path(failure["CausePath"], data, CONTEXT) == (
        "2 item(s) could not be listed; see Errors in s3://b/runs/run-1/inventory.json")


# --- docs/deploy.md keeps step with the templates --------------------------------------------

DOCS = ROOT / "docs" / "deploy.md"
TEMPLATE_FILES = {"deploy/central.yaml": CENTRAL, "deploy/member.yaml": MEMBER}
EVENT_KEYS = {"action", "with", "workflow", "inputs", "input_uri", "output_uri", "output_prefix"}


def _commands() -> list[list[str]]:
    """Every command line of the doc's sh blocks, continuation lines joined, comments dropped."""
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", DOCS.read_text(), re.S):
        lines.extend(re.sub(r"\\\n\s*", " ", block).splitlines())
    return [shlex.split(line, comments=True) for line in lines if line.strip()]


def _option(words: list[str], name: str) -> str | None:
    return words[words.index(name) + 1] if name in words else None


def _values(words: list[str], name: str) -> list[str]:
    """The words after option `name`, up to the next option."""
    if name not in words:
        return []
    rest = words[words.index(name) + 1:]
    return list(itertools.takewhile(lambda word: not word.startswith("--"), rest))


@dataclass(frozen=True)
class StackCommand:
    """One `aws cloudformation` command of the doc: its verb, template and parameter names."""

    verb: str
    template: str
    parameters: tuple[str, ...]
    capabilities: tuple[str, ...]


def stack_commands() -> list[StackCommand]:
    """The doc's `aws cloudformation` commands that name parameters or a template."""
    by_name: dict[str, str] = {}
    found = []
    for words in _commands():
        if words[:2] != ["aws", "cloudformation"] or len(words) < 3:
            continue
        verb = words[2]
        name = _option(words, "--stack-name") or _option(words, "--stack-set-name")
        template = _option(words, "--template-file") or (
            _option(words, "--template-body") or "").removeprefix("file://")
        if template and name:
            by_name.setdefault(name, template)
        template = template or by_name.get(name or "", "")
        parameters = [word.split("=", 1)[0] for word in _values(words, "--parameter-overrides")]
        parameters += [re.match(r"ParameterKey=([^,]+)", word).group(1)  # type: ignore[union-attr]
                       for word in _values(words, "--parameters")]
        if template or parameters:
            assert template, f"no template known for {' '.join(words[:4])}"
            found.append(StackCommand(verb, template, tuple(parameters),
                                      tuple(_values(words, "--capabilities"))))
    return found


def test_the_doc_deploys_both_templates() -> None:
    verbs = {(c.verb, c.template) for c in stack_commands()}
    assert {("deploy", "deploy/central.yaml"), ("create-stack-set", "deploy/member.yaml"),
            ("create-stack-instances", "deploy/member.yaml"),
            ("update-stack-set", "deploy/member.yaml")} <= verbs


@pytest.mark.parametrize("command", stack_commands(), ids=lambda c: f"{c.verb}:{c.template}")
def test_every_parameter_in_the_doc_exists(command: StackCommand) -> None:
    template = TEMPLATE_FILES[command.template]
    assert set(command.parameters) <= set(template["Parameters"]), command
    assert len(set(command.parameters)) == len(command.parameters)
    if command.verb in ("deploy", "create-stack-set", "update-stack-set"):
        named = any("RoleName" in r.get("Properties", {}) for r in template["Resources"].values())
        assert command.capabilities == (
            ("CAPABILITY_NAMED_IAM",) if named else ("CAPABILITY_IAM",)), command


@pytest.mark.parametrize("path", sorted(TEMPLATE_FILES))
def test_the_first_deploy_gives_every_parameter_without_a_default(path: str) -> None:
    template = TEMPLATE_FILES[path]
    required = {name for name, p in template["Parameters"].items() if "Default" not in p}
    [first, *_] = [c for c in stack_commands() if c.template == path
                   and c.verb in ("deploy", "create-stack-set")]
    assert required and required <= set(first.parameters)


def test_a_stack_set_update_names_every_parameter() -> None:
    """update-stack-set resets each parameter it does not name to its default."""
    for command in stack_commands():
        if command.verb == "update-stack-set":
            assert set(command.parameters) == set(TEMPLATE_FILES[command.template]["Parameters"])


def test_the_parameter_table_lists_every_central_parameter() -> None:
    table = re.search(r"\| Parameter \| Default \| Meaning \|\n(.*?)\n\n", DOCS.read_text(), re.S)
    assert table is not None
    listed = {name for row in table.group(1).splitlines()
              for name in re.findall(r"`(\w+)`", row.split("|")[1])}
    assert listed == set(CENTRAL["Parameters"])


def test_the_outputs_the_doc_reads_exist() -> None:
    used = set(re.findall(r"OutputKey=='(\w+)'", DOCS.read_text()))
    assert used == {"ExecutionRoleArn", "FunctionName", "StateMachineArn"}
    assert used <= set(CENTRAL["Outputs"])


def test_the_doc_s_events_are_events() -> None:
    payloads = [_option(words, "--payload") for words in _commands() if "--payload" in words]
    blocks = re.findall(r"```json\n(.*?)```", DOCS.read_text(), re.S)
    events = [json.loads(text) for text in [*payloads, *blocks] if text]
    assert len(events) >= 3
    for event in events:
        assert set(event) <= EVENT_KEYS and ("action" in event) != ("workflow" in event), event
