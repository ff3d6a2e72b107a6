"""The fault matrix: hostile answers from real sockets (see _matrix.py)."""
