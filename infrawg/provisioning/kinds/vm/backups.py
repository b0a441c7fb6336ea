"""VM backups (R13): scheduled jobs running the restic engine (placeholder, filled below)."""
