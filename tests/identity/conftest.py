"""The identity tests share the rooms tests' world (clock, members of each role)."""

from ..rooms.conftest import world  # noqa: F401
