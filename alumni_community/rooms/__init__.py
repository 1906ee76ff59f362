"""Rooms, memberships, threads, posts and revisions."""
