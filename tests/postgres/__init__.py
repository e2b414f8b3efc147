"""PostgreSQL tests: the shared frontier of several `cwo scrape` processes."""
