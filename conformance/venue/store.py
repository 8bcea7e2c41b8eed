"""The venue's state in SQLite: leverage per (user, symbol), open positions, and the orders that made them.

A file keeps the state across restarts (``state_path``); without one the database lives in memory. One
connection serves every request: a lock serialises access, and `Store.transaction` makes a
read-modify-write (an order filling against a position) atomic, also when uvicorn serves requests from
several threads. Decimals are stored as text, so nothing is rounded on the way in or out.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from conformance.venue.config import ConfigError

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS leverage (
    user TEXT NOT NULL,
    symbol TEXT NOT NULL,
    leverage INTEGER NOT NULL,
    PRIMARY KEY (user, symbol)
);
CREATE TABLE IF NOT EXISTS positions (
    user TEXT NOT NULL,
    symbol TEXT NOT NULL,
    amount TEXT NOT NULL,          -- signed: > 0 long, < 0 short
    entry_price TEXT NOT NULL,
    margin TEXT NOT NULL,          -- sum of fill notional / leverage used, less what reductions released
    update_time INTEGER NOT NULL,
    PRIMARY KEY (user, symbol)
);
CREATE TABLE IF NOT EXISTS orders (
    order_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    symbol TEXT NOT NULL,
    client_order_id TEXT,
    side TEXT NOT NULL,
    quantity TEXT NOT NULL,
    price TEXT NOT NULL,
    leverage INTEGER NOT NULL,
    reduce_only INTEGER NOT NULL,
    time INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class Position:
    """A user's one-way position in a symbol; ``amount`` 0 means flat."""

    symbol: str
    amount: Decimal
    entry_price: Decimal
    margin: Decimal
    update_time: int

    @classmethod
    def flat(cls, symbol: str) -> Position:
        return cls(symbol, Decimal(0), Decimal(0), Decimal(0), 0)


@dataclass(frozen=True)
class OrderRecord:
    user: str
    symbol: str
    client_order_id: str | None
    side: str
    quantity: Decimal
    price: Decimal
    leverage: int
    reduce_only: bool
    time: int


class Store:
    def __init__(self, path: str | Path | None = None) -> None:
        """Open (creating if needed) the state at ``path``; ``None`` keeps it in memory."""
        location = ":memory:" if path is None else str(path)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(location, check_same_thread=False, isolation_level=None, timeout=10)
        except sqlite3.Error as error:
            raise ConfigError(f"{location}: cannot open the state file: {error}") from None
        try:
            self._migrate()
        except sqlite3.Error as error:
            self._db.close()
            raise ConfigError(f"{location}: not a venue state file: {error}") from None

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version not in (0, SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"schema version {version}, expected {SCHEMA_VERSION}")
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together, or not at all; other threads wait."""
        with self._lock:
            if self._db.in_transaction:  # nested: the outer transaction decides
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- leverage -----------------------------------------------------------------------------------

    def leverage(self, user: str, symbol: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT leverage FROM leverage WHERE user = ? AND symbol = ?", (user, symbol)
            ).fetchone()
        return None if row is None else int(row[0])

    def set_leverage(self, user: str, symbol: str, leverage: int) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO leverage (user, symbol, leverage) VALUES (?, ?, ?)"
                " ON CONFLICT (user, symbol) DO UPDATE SET leverage = excluded.leverage",
                (user, symbol, leverage),
            )

    # -- positions ----------------------------------------------------------------------------------

    def position(self, user: str, symbol: str) -> Position:
        with self._lock:
            row = self._db.execute(
                "SELECT amount, entry_price, margin, update_time FROM positions"
                " WHERE user = ? AND symbol = ?",
                (user, symbol),
            ).fetchone()
        if row is None:
            return Position.flat(symbol)
        amount, entry_price, margin, update_time = row
        return Position(symbol, Decimal(amount), Decimal(entry_price), Decimal(margin), int(update_time))

    def save_position(self, user: str, position: Position) -> None:
        """Store an open position; a flat one is removed."""
        with self.transaction():
            if position.amount == 0:
                self._db.execute(
                    "DELETE FROM positions WHERE user = ? AND symbol = ?", (user, position.symbol)
                )
                return
            self._db.execute(
                "INSERT INTO positions (user, symbol, amount, entry_price, margin, update_time)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user, symbol) DO UPDATE SET"
                " amount = excluded.amount, entry_price = excluded.entry_price,"
                " margin = excluded.margin, update_time = excluded.update_time",
                (
                    user,
                    position.symbol,
                    str(position.amount),
                    str(position.entry_price),
                    str(position.margin),
                    position.update_time,
                ),
            )

    # -- orders -------------------------------------------------------------------------------------

    def add_order(self, order: OrderRecord) -> int:
        """Record a filled order; returns its id (1, 2, 3... per venue state)."""
        with self.transaction():
            cursor = self._db.execute(
                "INSERT INTO orders (user, symbol, client_order_id, side, quantity, price, leverage,"
                " reduce_only, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order.user,
                    order.symbol,
                    order.client_order_id,
                    order.side,
                    str(order.quantity),
                    str(order.price),
                    order.leverage,
                    int(order.reduce_only),
                    order.time,
                ),
            )
        order_id = cursor.lastrowid
        assert order_id is not None  # an INSERT into a rowid table always has one
        return order_id
