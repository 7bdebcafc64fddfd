"""Business rules as plain functions over a SQLAlchemy session; no request needed."""
