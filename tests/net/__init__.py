"""Tests of custom_wheel_offset.net (unit tests and a scripted local HTTP server)."""
