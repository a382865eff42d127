"""Query side: serves status and history from the projection. It never
produces events."""
