"""cwo: a complete, fresh database of wheel fitment data from the Custom Wheel Offset site.

The package follows the data flow of a crawl::

    cli/  ->  settings  ->  crawl/workflow_v3.run
                             |- storage/   frontier of work items, records, runs (SQLAlchemy)
                             |- crawl/     MultithreadedProcessor: claim, fetch, parse, write
                             |- net/       OptimizedNetworkManager: the one HTTP seam
                             |- protocol/  pure URL building and parsing (no I/O)
                             `- metrics/   MetricTracker and the run's metrics JSON
    exporting/  the stable export format (JSONL, CSV)
    audit/      data-quality rules over the stored catalogue (`cwo audit`)
    sandbox/    a faithful local imitation of the site, with ground truth and faults

Importing the package does nothing but define names.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
