"""The benchmark behind ``make bench`` (``python -m bench``): see bench/run.py."""
