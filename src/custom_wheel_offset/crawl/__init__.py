"""Orchestration: work items (items), the thread pool (processor) and the run (workflow_v3)."""
