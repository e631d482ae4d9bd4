"""Which errors are transient: the same call succeeds later, so it is retried, never
dead-lettered (tasks.py, grouping.py)."""

from __future__ import annotations

import psycopg
from celery.exceptions import SoftTimeLimitExceeded
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# psycopg's OperationalError (server gone, admin shutdown, deadlock, serialization failure,
# a cancelled statement) arrives wrapped by SQLAlchemy through the ORM, and bare from the
# bulk path's statements on the raw psycopg connection (store/writer_pg.py): both are listed.
# DataError, IntegrityError and the rest mean the input or the code is wrong: not retried.
TRANSIENT = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    BrokerError,
    ConnectionError,
    SoftTimeLimitExceeded,
)
