"""PostgreSQL + pgvector: connections, tenant scoping, migrations, the embedded server."""

from shared.db.database import Database

__all__ = ["Database"]
