"""Test support shared by every package: the pytest plugin and the in-memory fakes."""
