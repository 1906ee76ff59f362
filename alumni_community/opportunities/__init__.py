"""The service board: ways to serve, slots, sign-ups, waitlists, hours; sponsorship."""
