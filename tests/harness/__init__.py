"""Test harness: a moto IAM emulator behind a fault-injecting, IAM-faithful WSGI layer."""

DEFAULT_ACCOUNT_ID = "123456789012"
# Fake credentials used by the test environment (AWS's documented example key pair).
TEST_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
TEST_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

__all__ = ["DEFAULT_ACCOUNT_ID", "TEST_ACCESS_KEY_ID", "TEST_SECRET_ACCESS_KEY"]
