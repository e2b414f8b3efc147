"""Run metrics: counters, operation timings, memory samples, and the run's metrics JSON."""
