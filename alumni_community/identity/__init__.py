"""Members, handles, passwords, sessions, CSRF, the host bridge and recovery codes."""
