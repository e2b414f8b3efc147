"""Tests of custom_wheel_offset.crawl on real parts (a sandbox on loopback, SQLite files)."""
