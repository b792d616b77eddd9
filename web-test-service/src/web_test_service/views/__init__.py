"""HTTP views of the web-test service: thin layers over service.py."""
