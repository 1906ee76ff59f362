"""Django settings of the example host: the smallest site with a login.

Everything a deployment changes comes from the environment:

- ``DJANGO_SECRET_KEY``: Django's own secret (not the community's
  ``ALUMNI_COMMUNITY_SECRET_KEY``; keep the two different).
- ``DJANGO_DATABASE_PATH``: the host's SQLite file (default
  ``django_host.sqlite3`` in the current directory).
- ``DJANGO_DEBUG``: ``true`` for Django's debug pages (default off).
- ``DJANGO_ALLOWED_HOSTS``: comma-separated (default ``127.0.0.1,localhost``).
- ``DJANGO_COOKIE_SECURE``: ``true`` to send Django's cookies only over https
  (default off, so the example works on a plain-http development server).
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


# A development default only: anyone who reads this file can forge sessions
# signed with it. Set DJANGO_SECRET_KEY for anything real.
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "django-insecure-example-host-development-only-key-change-me"
)
DEBUG = _flag("DJANGO_DEBUG", False)
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "examples.django_host.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(os.environ.get("DJANGO_DATABASE_PATH", "django_host.sqlite3")).resolve(),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# Django's session and CSRF cookies are scoped to "/" (the whole site, the
# community included: that is how the community learns who is logged in).
# The community's own cookie is scoped to /community and never reaches Django.
SESSION_COOKIE_SECURE = _flag("DJANGO_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
