"""The errors store functions raise, named for callers that must not import SQLAlchemy."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError, SQLAlchemyError

# Any failure of the database or of a statement.
StoreError = SQLAlchemyError
# The database could not be reached or refused the operation (down, locked, timed out).
DatabaseUnavailable = OperationalError

__all__ = ["DatabaseUnavailable", "StoreError"]
