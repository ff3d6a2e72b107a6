"""Fixtures for the simulator tests."""
