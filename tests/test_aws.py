"""Partitions and call planning from botocore's own data, and the secret redactor."""

from __future__ import annotations

import logging

import pytest

from iamkeys import aws, params, redact
from iamkeys.errors import InputError


def test_partitions_come_from_botocore() -> None:
    names = [p.name for p in aws.partitions()]
    assert names[:2] == ["aws", "aws-cn"] and "aws-us-gov" in names
    commercial = aws.partition_of("us-east-1")
    assert "eu-west-2" in commercial.regions
    assert not any(r.endswith("-global") for r in commercial.regions)


@pytest.mark.parametrize(("spec", "expected"), [
    (None, [("aws", "us-east-1", 1)]),
    ("eu-west-2,us-west-2", [("aws", "eu-west-2", 2)]),
    ("us-east-1,cn-north-1,eu-west-1", [("aws", "us-east-1", 2), ("aws-cn", "cn-north-1", 1)]),
    ("us-gov-west-1", [("aws-us-gov", "us-gov-west-1", 1)]),
])
def test_one_call_per_partition(spec: str | None, expected: list[tuple[str, str, int]]) -> None:
    calls = aws.plan_calls(params.regions(spec), "us-east-1")
    assert [(c.partition, c.region, len(c.requested)) for c in calls] == expected


def test_star_is_every_region_of_the_default_partition() -> None:
    (call,) = aws.plan_calls(params.regions("*"), "cn-northwest-1")
    assert call.partition == "aws-cn"
    assert set(call.requested) == {"cn-north-1", "cn-northwest-1"}


@pytest.mark.parametrize("region", ["xx-nowhere-1", "us-east-99", "aws-global"])
def test_unknown_regions_are_input_errors(region: str) -> None:
    with pytest.raises(InputError, match="regions"):
        aws.partition_of(region)


def test_redaction_masks_registered_secrets_and_patterns() -> None:
    redact.add_secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY")
    text = redact.text("key wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY and "
                       "'X-Amz-Security-Token': 'IQoJb3JpZ2luX2VjEXAMPLE' Signature=abcdef0123")
    assert "wJalrXUtnFEMI" not in text and "IQoJb3JpZ2lu" not in text and "abcdef0123" not in text
    assert text.count(redact.MASK) == 3


def test_redacting_filter_covers_args_and_tracebacks() -> None:
    redact.add_secret("smtp-password-123")
    record = logging.LogRecord("iamkeys", logging.DEBUG, __file__, 1, "auth with %s",
                               ("smtp-password-123",), None)
    try:
        raise RuntimeError("failed with smtp-password-123")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert redact.RedactingFilter().filter(record)
    assert "smtp-password-123" not in record.getMessage()
    assert "RuntimeError" in record.getMessage()
