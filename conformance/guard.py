"""Leaving the account as it was found.

Before the first case, the guard reads the leverage and position of every (account, symbol) the run will
touch. After the last one, and also when the run is interrupted, it sets every changed leverage back and
closes every position the run opened. What it did, and anything it could not do, becomes a note of the
run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from conformance import wire
from conformance.execution import Session, close_order, read_position, read_request
from conformance.model import SignSpec, Touch
from conformance.readback import Position

_NORMAL = SignSpec()
_PARALLEL_READS = 8


@dataclass(frozen=True)
class Snapshot:
    account: str
    symbol: str
    leverage: int
    amount: Decimal


class Guard:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._snapshots: dict[tuple[str, str], Snapshot] = {}
        self._slots = asyncio.Semaphore(_PARALLEL_READS)

    async def _read(self, account: str, symbol: str) -> Position | None:
        session = self._session
        async with self._slots:
            exchange = await session.send(read_request(session, symbol), account, _NORMAL)
        return read_position(exchange, symbol, session.profile)

    async def snapshot(self, touches: Iterable[Touch], symbols: Iterable[str]) -> list[str]:
        """Record the state of every touched (account, symbol) among the run's symbols."""
        known = set(symbols)
        keys = sorted(
            {
                (t.account, t.symbol)
                for t in touches
                if t.symbol in known and self._session.has_account(t.account)
            },
            key=lambda key: (key[0], key[1] or ""),
        )
        positions = await asyncio.gather(*(self._read(account, str(symbol)) for account, symbol in keys))
        notes = []
        for (account, symbol), position in zip(keys, positions, strict=True):
            if position is None:
                notes.append(
                    f"could not read the {account} account's {symbol} position before the run: "
                    "it will not be restored"
                )
                continue
            self._snapshots[(account, str(symbol))] = Snapshot(
                account, str(symbol), position.leverage, position.amount
            )
        return notes

    def flat_at_start(self, account: str, symbol: str) -> bool | None:
        """Whether the account held no position in the symbol before the run (None: unknown)."""
        snapshot = self._snapshots.get((account, symbol))
        return None if snapshot is None else snapshot.amount == 0

    @property
    def snapshots(self) -> tuple[Snapshot, ...]:
        return tuple(self._snapshots.values())

    async def restore(self) -> list[str]:
        """Put back every leverage the run changed and close every position it opened."""
        notes = await asyncio.gather(*(self._restore_one(s) for s in self._snapshots.values()))
        return [note for group in notes for note in group]

    async def _restore_one(self, snapshot: Snapshot) -> list[str]:
        session = self._session
        who = f"{snapshot.account} {snapshot.symbol}"
        current = await self._read(snapshot.account, snapshot.symbol)
        if current is None:
            return [f"RESTORE FAILED: could not read {who} after the run; it may still be changed"]
        notes = []
        if current.amount != snapshot.amount and snapshot.amount == 0:
            async with self._slots:
                exchange = await session.send(
                    close_order(session, snapshot.symbol, current.amount), snapshot.account, _NORMAL
                )
            if exchange.response is not None and exchange.response.is_success:
                notes.append(f"closed the {who} position the run left open ({current.amount})")
            else:
                notes.append(f"RESTORE FAILED: could not close the {who} position ({current.amount})")
        if current.leverage != snapshot.leverage:
            request = wire.build(
                base_url=session.base_url,
                method="POST",
                path=session.profile.paths["leverage"],
                params={"symbol": snapshot.symbol, "leverage": snapshot.leverage},
            )
            async with self._slots:
                exchange = await session.send(request, snapshot.account, _NORMAL)
            if exchange.response is not None and exchange.response.is_success:
                notes.append(f"restored {who} leverage to {snapshot.leverage} (was {current.leverage})")
            else:
                notes.append(
                    f"RESTORE FAILED: {who} leverage is {current.leverage}, "
                    f"could not set it back to {snapshot.leverage}"
                )
        return notes
