"""The database: engine creation, the unit of work, the tables (Alembic, in engine/migrations, owns the schema)."""
