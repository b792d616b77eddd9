"""HTTP views of the perf-test service: thin layers over service.py."""
