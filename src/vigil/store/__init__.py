"""Stage 8b: durable watchlists, people, events and audit (SQLAlchemy + Alembic), media files."""
