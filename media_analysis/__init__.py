"""Shared plumbing of the Media Analysis services: settings, the read-model
tables, database and Kafka set-up, HTTP problem details and the CLI that
composes the services. The services import the plumbing, never each other."""
