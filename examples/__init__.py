"""Host sites that mount alumni_community (run them with uvicorn, or `alumni-community demo`)."""
