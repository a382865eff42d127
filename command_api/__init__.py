"""Command side: accepts analysis requests and deletions and records them as
events. It never writes the read table."""
