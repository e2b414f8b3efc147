"""The stable export format (JSONL and CSV) shared by `cwo export` and `cwo sandbox truth`."""
