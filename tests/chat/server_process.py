"""A community server process for the multi-process tests: settings from the environment.

Run as ``python -m tests.chat.server_process PORT``: mounted at /community, or served
at the root with ``AC_TEST_MOUNT=/``.
"""

from __future__ import annotations

import logging
import os
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from alumni_community import Community

from ..privacy_tap import LogScan, tapped


def _report_leak(leak: str) -> None:
    """Append a leak to the file the test named; the test fails when it finds any."""
    with open(os.environ["AC_TEST_LEAK_FILE"], "a", encoding="utf-8") as out:
        out.write(leak.replace("\n", " ") + "\n")


if __name__ == "__main__":
    if os.environ.get("AC_TEST_LEAK_FILE"):
        # The same privacy tap as in-process tests: requests come from the
        # planted address; responses, frames and log records are searched.
        Community.__call__ = tapped(Community.__call__, _report_leak)  # type: ignore[method-assign]
        logging.getLogger().addHandler(LogScan(_report_leak))
        logging.getLogger("alumni_community").setLevel(logging.DEBUG)
        # What Python would print without a handler: warnings and errors on stderr.
        shown = logging.StreamHandler()
        shown.setLevel(logging.WARNING)
        logging.getLogger().addHandler(shown)
    community = Community()
    app: object = community
    if os.environ.get("AC_TEST_MOUNT", "/community") != "/":
        app = Starlette(routes=[Mount("/community", app=community)], lifespan=community.lifespan)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
    )
