"""What a MongoDB-compatible server may lack that MongoDB has, probed once per store by behaviour.

MongoDB (a replica set or a sharded cluster) passes every probe and none of this changes anything.
The wire-protocol test server (nx-27017) fails two: aggregates inside a transaction, and
transactions that interleave (it runs each one as a SQLite savepoint on one shared connection, so
committing one releases the others'). On such a server aggregates read committed data and units
of work take turns. It also reads `{"a": 1, "$or": [x, y]}` as `(a AND x) OR y`, so every `$or`
beside other conditions is written inside an explicit `$and` (the same query on MongoDB). A standalone mongod has no transactions at all (see unit_of_work.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from gateway_app.core.logging import get_logger
from gateway_app.db.errors import StoreBusy

log = get_logger("db.mongo")
TURN_TIMEOUT_SECONDS = 30.0  # a unit of work waiting longer than this for its turn answers "busy"


class _Aggregates:
    """Whether count, distinct and aggregate may run inside this deployment's transactions."""

    in_transactions = True


def aggregate_session(session):
    """The session an aggregate runs in: the unit of work's, or none where transactions cannot aggregate
    (it then reads committed data only: a unit of work's own uncommitted writes are not counted)."""
    return session if _Aggregates.in_transactions else None


class ServerQuirks:
    """The probed abilities of one deployment, and the turn-taking its transactions may need."""

    def __init__(self, transactions: bool, interleaved: bool = True, aggregates: bool = True) -> None:
        self.transactions = transactions
        self.interleaved = interleaved
        self.aggregates = aggregates
        # Re-entrant: a unit of work may open another in the same thread (they nest, which savepoints allow).
        self._turn = threading.RLock()

    @contextmanager
    def transaction_turn(self) -> Iterator[None]:
        """Held for the life of a transaction; only takes turns where transactions cannot interleave."""
        if self.interleaved or not self.transactions:
            yield
            return
        if not self._turn.acquire(timeout=TURN_TIMEOUT_SECONDS):
            raise StoreBusy("the database is busy with other transactions; retry shortly")
        try:
            yield
        finally:
            self._turn.release()


def probe(client: MongoClient, db_name: str, connect: Callable[[], MongoClient]) -> ServerQuirks:
    """Find out what this deployment's transactions can do (nothing is left written). `connect` opens a
    client of its own for the interleaving probe: where that fails, a transaction is left open on the
    server until its client goes."""
    probe_collection = client[db_name]["_transaction_probe"]
    try:
        with client.start_session() as session:
            with session.start_transaction():
                probe_collection.find_one({"_id": "probe"}, session=session)
                session.abort_transaction()
    except OperationFailure as exc:
        if exc.code == 20 or "transaction" in str(exc).lower():
            log.warning(
                "mongodb has no transactions (a standalone server): units of work are not atomic; "
                "run it as a replica set"
            )
            return ServerQuirks(transactions=False)
        raise
    except PyMongoError as exc:
        raise StoreBusy(f"MONGODB_URI: the database is unreachable ({exc})") from exc
    try:
        quirks = ServerQuirks(True, _interleaves(connect, db_name), _aggregates(client, probe_collection))
    finally:
        probe_collection.drop()
    if not quirks.aggregates:
        log.warning("mongodb cannot aggregate inside transactions: counts read committed data")
    if not quirks.interleaved:
        log.warning("mongodb cannot interleave transactions: units of work take turns")
    _Aggregates.in_transactions = quirks.aggregates
    return quirks


def _aggregates(client: MongoClient, collection) -> bool:
    with client.start_session() as session:
        session.start_transaction()
        collection.count_documents({}, session=session)
        try:
            session.commit_transaction()  # a read-only transaction: nothing changes
        except OperationFailure as exc:
            if "session" not in str(exc).lower():
                raise
            return False
    return True


def _interleaves(connect: Callable[[], MongoClient], db_name: str) -> bool:
    """Two transactions open at once, the first committed first: MongoDB commits both."""
    client = connect()
    try:
        collection = client[db_name]["_transaction_probe"]
        with client.start_session() as first, client.start_session() as second:
            first.start_transaction()
            collection.insert_one({"probe": "first"}, session=first)
            second.start_transaction()
            collection.insert_one({"probe": "second"}, session=second)
            first.commit_transaction()
            try:
                second.commit_transaction()
            except OperationFailure:
                return False
        return True
    finally:
        client.close()
