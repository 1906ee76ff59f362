from ..rooms.conftest import World, world  # noqa: F401  (the same world: clock, members)
