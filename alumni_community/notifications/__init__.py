"""In-app notifications: what a member is told, newest first."""
