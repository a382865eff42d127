"""The read model both sides share: the projected tables, the analysis state
and its fold, the projection positions with their watermark and notices
(the Alembic migrations in ``alembic/`` create the tables).
The projector writes these tables; the command side only reads them (for
read-your-writes and idempotency); the query side serves them."""
