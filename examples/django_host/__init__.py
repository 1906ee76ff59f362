"""A Django host site with the community mounted at ``/community`` (see asgi.py)."""
