from ..chat.conftest import chat  # noqa: F401  (a real uvicorn, for the browser tests)
from ..rooms.conftest import world  # noqa: F401  (the same world: clock, members)
