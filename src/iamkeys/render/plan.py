"""A remediation plan (or its result) as one self-contained HTML page.

No external scripts, styles, fonts or images; every value is escaped by Jinja2's autoescape.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from .. import serialize
from ..model import RemediationPlan

if TYPE_CHECKING:
    import jinja2

TITLE = "IAM access keys: remediation plan"
APPLIED_TITLE = "IAM access keys: remediation result"


def plan_html(planned: RemediationPlan) -> str:
    """The page for a plan: its actions (with results once applied) and the keys left alone."""
    columns, rows = serialize.plan_rows(planned)
    return _environment().get_template("plan.html.j2").render(
        title=APPLIED_TITLE if planned.applied else TITLE, summary=serialize.plan_summary(
            planned), applied=planned.applied, columns=columns, rows=rows,
        skipped_columns=serialize.SKIPPED_COLUMNS, skipped=serialize.skipped_rows(planned),
        result_column=columns.index("Result") if planned.applied else -1)


@functools.cache
def _environment() -> jinja2.Environment:
    """The Jinja2 environment for the template, with autoescape on."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("iamkeys", "render/templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
