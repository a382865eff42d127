"""Process plumbing every service shares: settings, the database engine and
pools, the Kafka broker factory and topic admin, the lenient record
parser, dead-lettering, the artifact store and collector tuning. Imports no
service and nothing above it."""
