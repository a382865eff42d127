"""What only the two HTTP APIs use: problem details, authentication and API
keys, rate limiting, load shedding, request metrics, health endpoints and id
parsing."""
