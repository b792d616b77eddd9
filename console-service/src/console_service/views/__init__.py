"""The console's JSON API under /api/v1/auth."""
