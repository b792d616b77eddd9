"""HTTP views of the scheduler service."""
