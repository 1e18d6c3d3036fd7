"""What every app may import and that imports no app: errors, the event bus (more moves here with issue 13)."""
