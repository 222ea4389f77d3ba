"""No secret leaves `remediate --apply` or `undo --apply` in debug mode: not the caller's secret
key or session token, not the credentials of the roles assumed into member accounts, in stdout,
stderr (the debug log of every request), the journal or the saved plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli_runner import iamkeys
from estate import ago
from test_secrets import Sweep, assumed_secrets, requests_logged
from test_secrets import alice as alice  # noqa: F401  (fixtures)
from test_secrets import organization as organization  # noqa: F401
from test_secrets import sweep as sweep  # noqa: F401


def test_remediate_and_undo_in_an_organization(organization: tuple[str, ...],  # noqa: F811
                                               alice: Any, sweep: Sweep,  # noqa: F811
                                               tmp_path: Path) -> None:
    for account in organization:
        alice.bulk_create([{"name": "old", "keys": [{"create_date": ago(400)}]}],
                          account_id=account)
    alice.reset(state=False)
    journal, plan = tmp_path / "journal.jsonl", tmp_path / "plan.json"
    applied = iamkeys("--debug", "remediate", "--organization", "--deactivate", "IAM.3",
                      "--apply", "--journal", str(journal), "--plan-out", str(plan))
    assert applied.code == 0, applied.stderr[-3000:]
    assert {a["AccountId"] for a in applied.json()["Actions"]} == set(organization)
    assert requests_logged(applied, alice) == alice.stats()["total"]
    undone = iamkeys("--debug", "undo", str(journal), "--apply")
    assert undone.code == 0, undone.stderr[-3000:]
    assert len(undone.json()["Actions"]) == len(organization)
    secrets = assumed_secrets(alice)
    assert len(secrets) >= 2 * len(organization)
    sweep.secrets |= secrets
    sweep.result("remediate --apply", applied)
    sweep.result("undo --apply", undone)
    sweep.files("remediation", [journal, plan])
    sweep.assert_clean()
