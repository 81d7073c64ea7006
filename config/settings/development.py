"""`make run`: the product on a developer's machine, with demo data."""

from .base import *  # noqa: F403

# Serve static files straight from the apps' folders, no collectstatic needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT = None  # whitenoise serves from the apps' folders
