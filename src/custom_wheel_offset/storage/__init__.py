"""The one database seam: schema, engine, frontier of work items, batch writer, run lock."""
