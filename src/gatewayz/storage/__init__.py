"""Storage: the SQL database (SQLite or PostgreSQL), Redis, and the schema migrations."""
