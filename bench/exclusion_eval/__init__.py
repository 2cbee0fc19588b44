"""Recall/precision evaluation of exclusion scanning on real open-source code (see README.md)."""
