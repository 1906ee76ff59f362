"""Moderation: crisis, identifying details and watched words in what members post."""
