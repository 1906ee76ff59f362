"""alumni_community: a private, pseudonymous peer-support community for a recovery centre's alumni.

Mount it in a Starlette, FastAPI or Django-ASGI site::

    from alumni_community import Community, Settings

    community = Community(Settings.from_env())
    app = Starlette(routes=[Mount("/community", app=community)], lifespan=community.lifespan)

Only the names in ``__all__`` are public; every other module may change.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"

from .app import Community
from .errors import (
    AccountInactive,
    BadRequest,
    CommunityError,
    ConfigurationError,
    Conflict,
    CsrfFailed,
    Forbidden,
    HandleNeeded,
    IdentifyingDetails,
    InvalidCredentials,
    MethodNotAllowed,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    SchemaNotReady,
    ServiceUnavailable,
    Silenced,
    StorageFull,
    StorageReadOnly,
    ValidationFailed,
)
from .milestones import Step as MilestoneStep
from .moderation.trust import CrisisResource, TrustRules
from .settings import Limit, Settings

__all__ = [
    "AccountInactive",
    "BadRequest",
    "Community",
    "CommunityError",
    "ConfigurationError",
    "Conflict",
    "CrisisResource",
    "CsrfFailed",
    "Forbidden",
    "HandleNeeded",
    "IdentifyingDetails",
    "InvalidCredentials",
    "Limit",
    "MethodNotAllowed",
    "MilestoneStep",
    "NotAuthenticated",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "SchemaNotReady",
    "ServiceUnavailable",
    "Settings",
    "Silenced",
    "StorageFull",
    "StorageReadOnly",
    "TrustRules",
    "ValidationFailed",
    "__version__",
]
