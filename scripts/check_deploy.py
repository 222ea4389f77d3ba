"""The deployment's static checks (run as `scripts/check-deploy`, from scripts/test).

1. cfn-lint on every template in deploy/: no errors, warnings or informational findings.
2. asl-validator (npm, pinned in deploy/package.json) on deploy/fanout.asl.json as Step Functions
   receives it: with central.yaml's DefinitionSubstitutions filled in (parameter defaults, and
   example values for what only exists in a stack). Where node or npm is missing, this check is
   skipped with a line saying so.

Each check prints one line; the exit status is 1 when one failed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
CENTRAL = DEPLOY / "central.yaml"
DEFINITION = DEPLOY / "fanout.asl.json"
PROG = "check-deploy"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")
# Values of the substitutions that have no parameter default: what a stack would pass.
EXAMPLES = {
    "Partition": "aws",
    "FunctionArn": "arn:aws:lambda:us-east-1:111122223333:function:iamkeys-Function-AbC123",
    "StateBucket": "iamkeys-statebucket-abc123",
    "ExternalId": "example-external-id",
    "MailTo": "security-team@example.com",
    "MailFrom": "iamkeys@example.com",
}


class CheckError(Exception):
    """A failed check, reported as one line."""


def load_template(path: Path) -> dict[str, Any]:
    """A template as cfn-lint reads it (short-form intrinsics such as !Ref become mappings)."""
    from cfnlint.decode import cfn_yaml

    template: dict[str, Any] = cfn_yaml.load(str(path))
    return template


def substitution_values(template: Mapping[str, Any]) -> dict[str, str]:
    """The state machine's DefinitionSubstitutions: defaults of the parameters they name, else
    EXAMPLES."""
    [machine] = [r for r in template["Resources"].values()
                 if r["Type"] == "AWS::StepFunctions::StateMachine"]
    values: dict[str, str] = {}
    for key, value in machine["Properties"]["DefinitionSubstitutions"].items():
        parameter = template["Parameters"].get(value.get("Ref", "")) if isinstance(
            value, Mapping) else None
        if parameter is not None and "Default" in parameter:
            values[key] = str(parameter["Default"])
        elif key in EXAMPLES:
            values[key] = EXAMPLES[key]
        else:
            raise CheckError(f"{CENTRAL.name}: DefinitionSubstitutions {key} has no parameter "
                             f"default; add an example value to EXAMPLES in {Path(__file__).name}")
    return values


def substitute(text: str, values: Mapping[str, str]) -> str:
    """The definition as Step Functions receives it; every placeholder must have a value."""
    missing = sorted(set(PLACEHOLDER.findall(text)) - set(values))
    if missing:
        raise CheckError(f"{DEFINITION.name}: no DefinitionSubstitutions for "
                         f"{', '.join(missing)} in {CENTRAL.name}")
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def run_cfn_lint() -> str:
    """cfn-lint over deploy/*.yaml, informational findings included."""
    templates = sorted(DEPLOY.glob("*.yaml"))
    # The console script beside this interpreter (the project's .venv), else the one on PATH.
    cfn_lint = (shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
                or shutil.which("cfn-lint"))
    if cfn_lint is None:
        raise CheckError("cfn-lint is not installed (it is in the test extra: "
                         "pip install -e '.[test]')")
    done = subprocess.run([cfn_lint, "--include-checks", "I", "--", *map(str, templates)],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise CheckError(f"cfn-lint found problems in deploy/ (exit {done.returncode})")
    names = ", ".join(f"deploy/{path.name}" for path in templates)
    return f"cfn-lint {names}: no errors, warnings or notes"


def asl_validator() -> Path | None:
    """deploy/node_modules' asl-validator, installed from the lock when missing or outdated."""
    if not (shutil.which("node") and shutil.which("npm")):
        return None
    wanted = json.loads((DEPLOY / "package.json").read_text())["devDependencies"]["asl-validator"]
    installed = DEPLOY / "node_modules" / "asl-validator" / "package.json"
    if not installed.is_file() or json.loads(installed.read_text())["version"] != wanted:
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"],
                              capture_output=True, text=True, cwd=DEPLOY)
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            raise CheckError(f"npm ci in deploy/ failed (exit {done.returncode})")
    return DEPLOY / "node_modules" / ".bin" / "asl-validator"


def run_asl_validator() -> str:
    """asl-validator on the substituted definition."""
    validator = asl_validator()
    if validator is None:
        return "asl-validator skipped: node or npm is not installed"
    text = substitute(DEFINITION.read_text(), substitution_values(load_template(CENTRAL)))
    with tempfile.TemporaryDirectory(prefix="check-deploy-") as scratch:
        path = Path(scratch) / DEFINITION.name
        path.write_text(text)
        done = subprocess.run([str(validator), "--json-path", str(path)], capture_output=True,
                              text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise CheckError(f"asl-validator: deploy/{DEFINITION.name} is invalid")
    return f"asl-validator deploy/{DEFINITION.name} (substituted as central.yaml does): valid"


def main() -> int:
    """Run every check; 1 when one failed."""
    failed = False
    for check in (run_cfn_lint, run_asl_validator):
        try:
            sys.stdout.write(f"{PROG}: {check()}\n")
        except CheckError as e:
            sys.stderr.write(f"{PROG}: {e}\n")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
