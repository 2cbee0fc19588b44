"""The in-process handler fixture, shared by the handler's test modules."""

from tests.unit.core.test_handler import make_handler  # noqa: F401  (the fixture)
