"""The webhook notifier: one more consumer group of the event log, which records
the webhooks analyses asked for and delivers them, signed, with retries."""
