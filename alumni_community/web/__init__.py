"""HTML pages: Jinja2 templates a host can override, small static files."""
