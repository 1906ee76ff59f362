"""A community server process for the multi-process tests: settings from the environment.

Run as ``python -m tests.chat.server_process PORT``.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from alumni_community import Community

if __name__ == "__main__":
    community = Community()
    app = Starlette(routes=[Mount("/community", app=community)], lifespan=community.lifespan)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
    )
