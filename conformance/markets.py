"""Market facts per symbol for a run: leverage band, brackets, position limit, order filters, price.

Sources, in order (venue-contract.md, "Market facts the cases need"): the markets file given by the user
(:mod:`conformance.markets_file`), then the profile's discovery endpoints. The file wins for the leverage
band, the brackets and ``max_position_size_usd``; the order filters always come from ``exchangeInfo`` and the
price from the ticker, the file's being used only when the venue's cannot be read. Every fact records where
it came from, and every difference between the file and the venue becomes a
:class:`~conformance.model.FactDisagreement`.

The facts arithmetic the cases use (``maxNotionalValue``, the smallest order) is in :mod:`conformance.facts`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from conformance.markets_file import FileMarket, MarketsFile
from conformance.model import Bracket, FactDisagreement, MarketFacts, Profile

# --------------------------------------------------------------------------------------------------
# What the run gets


class MarketFactsError(Exception):
    """The facts a run needs cannot be established (an unknown symbol, no leverage band...)."""


@dataclass(frozen=True)
class MarketsReport:
    """The market facts of a run, the file/venue disagreements, and the facts nobody could give."""

    facts: tuple[MarketFacts, ...]
    disagreements: tuple[FactDisagreement, ...] = ()
    missing: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # symbol -> fact -> why
    problems: Mapping[str, str] = field(default_factory=dict)  # "GET <path>" -> what went wrong

    def for_symbol(self, symbol: str) -> MarketFacts:
        for facts in self.facts:
            if facts.symbol == symbol:
                return facts
        raise KeyError(symbol)


# --------------------------------------------------------------------------------------------------
# Discovery from the venue


@dataclass(frozen=True)
class VenueMarket:
    """What the venue says about one symbol; ``sources`` names the endpoint of each fact it gave."""

    symbol: str
    max_leverage: int | None = None
    brackets: tuple[Bracket, ...] = ()
    price: Decimal | None = None
    min_qty: Decimal | None = None
    step_size: Decimal | None = None
    min_notional: Decimal | None = None
    sources: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Discovery:
    """What asking the venue gave: facts per symbol, the symbols it lists, what could not be read."""

    markets: Mapping[str, VenueMarket] = field(default_factory=dict)
    listed: tuple[str, ...] | None = None  # the trading symbols of exchangeInfo; None when it was not read
    problems: Mapping[str, str] = field(default_factory=dict)  # "GET <path>" -> what went wrong


@dataclass(frozen=True)
class _Endpoints:
    """The discovery endpoints of a profile, named as facts are credited: ``GET <path>``."""

    exchange_info: str
    brackets: str
    ticker: str

    @classmethod
    def of(cls, profile: Profile) -> _Endpoints:
        paths = profile.paths
        return cls(
            exchange_info=paths.get("exchange_info", "/fapi/v1/exchangeInfo"),
            brackets=paths.get("brackets", "/fapi/v1/leverageBracket"),
            ticker=paths.get("ticker", "/fapi/v1/ticker/price"),
        )

    @staticmethod
    def source(path: str) -> str:
        return f"GET {path}"


class _Unreadable(Exception):
    """A discovery endpoint failed or answered something unusable; the message says which."""


def _text_of(value: Any) -> str:
    return json.dumps(value) if value is None or isinstance(value, str | int | float | bool) else "?"


def _venue_decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Unreadable(f"{what} is not a decimal ({_text_of(value)})")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _Unreadable(f"{what} is not a decimal ({_text_of(value)})") from None
    if not number.is_finite():
        raise _Unreadable(f"{what} is not a finite decimal ({_text_of(value)})")
    return number


def _venue_int(value: Any, what: str) -> int:
    number = _venue_decimal(value, what)
    if number != number.to_integral_value():
        raise _Unreadable(f"{what} is not an integer ({_text_of(value)})")
    return int(number)


def _entries(document: Any) -> list[dict[str, Any]]:
    """An array of ``{"symbol": ...}`` objects, or (asked with ``symbol``) one such object."""
    entries = [document] if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise _Unreadable("answered neither an array nor an object")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("symbol"), str):
            raise _Unreadable('answered an entry without a "symbol"')
    return entries


def _parse_exchange_info(
    document: Any, profile: Profile
) -> tuple[tuple[str, ...], dict[str, dict[str, Any]]]:
    """(the trading symbols it lists, per symbol: fact -> value) from exchangeInfo."""
    if not isinstance(document, dict) or not isinstance(document.get("symbols"), list):
        raise _Unreadable('answered JSON without a "symbols" list')
    listed: list[str] = []
    facts: dict[str, dict[str, Any]] = {}
    for entry in _entries(document["symbols"]):
        symbol = entry["symbol"]
        if entry.get("status", "TRADING") == "TRADING":
            listed.append(symbol)
        found: dict[str, Any] = {}
        for flt in entry.get("filters") or []:
            kind = flt.get("filterType") if isinstance(flt, dict) else None
            if kind == "LOT_SIZE":
                found["min_qty"] = _venue_decimal(flt.get("minQty"), f"{symbol} LOT_SIZE minQty")
                found["step_size"] = _venue_decimal(flt.get("stepSize"), f"{symbol} LOT_SIZE stepSize")
            elif kind == "MIN_NOTIONAL":
                value = flt.get("notional", flt.get("minNotional"))
                found["min_notional"] = _venue_decimal(value, f"{symbol} MIN_NOTIONAL notional")
        if profile.band_source == "exchange_info" and "maxLeverage" in entry:
            found["max_leverage"] = _venue_int(entry["maxLeverage"], f"{symbol} maxLeverage")
        facts[symbol] = found
    return tuple(listed), facts


def _parse_brackets(document: Any) -> dict[str, tuple[Bracket, ...]]:
    result: dict[str, tuple[Bracket, ...]] = {}
    for entry in _entries(document):
        symbol = entry["symbol"]
        raw = entry.get("brackets")
        if not isinstance(raw, list) or not raw or not all(isinstance(b, dict) for b in raw):
            raise _Unreadable(f'{symbol}: no "brackets" list of objects')
        brackets = [
            Bracket(
                bracket=_venue_int(item.get("bracket"), f"{symbol} bracket"),
                initial_leverage=_venue_int(item.get("initialLeverage"), f"{symbol} initialLeverage"),
                notional_cap=_venue_decimal(item.get("notionalCap"), f"{symbol} notionalCap"),
                notional_floor=_venue_decimal(item.get("notionalFloor", 0), f"{symbol} notionalFloor"),
            )
            for item in raw
        ]
        result[symbol] = tuple(sorted(brackets, key=lambda b: b.bracket))
    return result


def _parse_prices(document: Any) -> dict[str, Decimal]:
    return {e["symbol"]: _venue_decimal(e.get("price"), f"{e['symbol']} price") for e in _entries(document)}


async def _get_json(
    client: httpx.AsyncClient, path: str, params: Mapping[str, str], auth: httpx.Auth | None
) -> Any:
    try:
        if auth is None:
            response = await client.get(path, params=dict(params))
        else:
            response = await client.get(path, params=dict(params), auth=auth)
    except httpx.HTTPError as exc:
        raise _Unreadable(f"failed: {exc or type(exc).__name__}") from exc
    if response.status_code != 200:
        raise _Unreadable(f"answered HTTP {response.status_code}: {response.text[:200]}")
    try:
        return json.loads(response.content)
    except ValueError:
        raise _Unreadable("answered something that is not JSON") from None


def _needs_brackets(profile: Profile) -> bool:
    return profile.band_source == "brackets" or profile.notional_rule == "brackets"


async def discover_markets(
    client: httpx.AsyncClient,
    profile: Profile,
    *,
    auth: httpx.Auth | None,
    symbols: Sequence[str] | None = None,
) -> Discovery:
    """Ask the venue about ``symbols`` (None: every trading symbol it lists), as the profile says.

    ``GET exchangeInfo`` (filters; ``maxLeverage`` when ``band_source`` is ``exchange_info``), the signed
    ``GET leverageBracket`` when the profile needs brackets, and ``GET ticker/price``; the last two with
    ``symbol`` when exactly one symbol is wanted. An endpoint that fails is recorded in ``problems`` and
    its facts are missing; nothing is raised for it.
    """
    endpoints = _Endpoints.of(profile)
    one = {"symbol": symbols[0]} if symbols is not None and len(symbols) == 1 else {}
    wanted: dict[str, tuple[str, Mapping[str, str], httpx.Auth | None]] = {
        "exchange_info": (endpoints.exchange_info, {}, None),
        "ticker": (endpoints.ticker, one, None),
    }
    if _needs_brackets(profile):
        wanted["brackets"] = (endpoints.brackets, one, auth)
    answers = await asyncio.gather(
        *(_get_json(client, path, params, signer) for path, params, signer in wanted.values()),
        return_exceptions=True,
    )

    problems: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    parsers = {
        "exchange_info": lambda doc: _parse_exchange_info(doc, profile),
        "brackets": _parse_brackets,
        "ticker": _parse_prices,
    }
    for (name, (path, _, _)), answer in zip(wanted.items(), answers, strict=True):
        source = _Endpoints.source(path)
        if isinstance(answer, BaseException) and not isinstance(answer, _Unreadable):
            raise answer
        try:
            if isinstance(answer, _Unreadable):
                raise answer
            parsed[name] = parsers[name](answer)
        except _Unreadable as exc:
            problems[source] = f"{source} {exc}"

    listed, info = parsed.get("exchange_info", (None, {}))
    brackets: dict[str, tuple[Bracket, ...]] = parsed.get("brackets", {})
    prices: dict[str, Decimal] = parsed.get("ticker", {})
    markets: dict[str, VenueMarket] = {}
    for symbol in symbols if symbols is not None else (listed or ()):
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for fact, value in info.get(symbol, {}).items():
            values[fact], sources[fact] = value, _Endpoints.source(endpoints.exchange_info)
        if symbol in brackets:
            values["brackets"] = brackets[symbol]
            sources["brackets"] = _Endpoints.source(endpoints.brackets)
            if profile.band_source == "brackets":  # bracket 1 carries the highest initial leverage
                values["max_leverage"] = brackets[symbol][0].initial_leverage
                sources["max_leverage"] = _Endpoints.source(endpoints.brackets)
        if symbol in prices:
            values["price"], sources["price"] = prices[symbol], _Endpoints.source(endpoints.ticker)
        if values:
            markets[symbol] = VenueMarket(symbol=symbol, sources=sources, **values)
    return Discovery(markets=markets, listed=listed, problems=problems)


# --------------------------------------------------------------------------------------------------
# Merging the file and the venue


def _show(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, tuple):
        return ", ".join(f"{b.bracket}: {b.initial_leverage}x up to {_show(b.notional_cap)}" for b in value)
    return str(value)


def _same(file_value: Any, venue_value: Any) -> bool:
    if isinstance(file_value, tuple) and isinstance(venue_value, tuple):  # brackets; floors are not compared
        return [(b.bracket, b.initial_leverage, b.notional_cap) for b in file_value] == [
            (b.bracket, b.initial_leverage, b.notional_cap) for b in venue_value
        ]
    return bool(file_value == venue_value)


@dataclass
class _SymbolMerge:
    """The facts of one symbol, taken one by one from the file and the venue."""

    symbol: str
    in_file: FileMarket | None
    venue: VenueMarket | None
    file_source: str
    discovery: Discovery
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    gaps: dict[str, str] = field(default_factory=dict)
    disagreements: list[FactDisagreement] = field(default_factory=list)

    def take(self, fact: str, *, file_wins: bool, endpoint: str, needed: bool = True) -> None:
        """Record ``fact`` from the winning source, a disagreement when both say it, a gap when none does."""
        file_value = getattr(self.in_file, fact) if self.in_file else None
        venue_value = getattr(self.venue, fact) if self.venue else None
        file_value = file_value if file_value != () else None
        venue_value = venue_value if venue_value != () else None
        venue_source = self.venue.sources.get(fact, endpoint) if self.venue else endpoint
        if file_value is not None and venue_value is not None and not _same(file_value, venue_value):
            self.disagreements.append(
                FactDisagreement(self.symbol, fact, _show(file_value), _show(venue_value), venue_source)
            )
        candidates = [(file_value, self.file_source), (venue_value, venue_source)]
        for value, source in candidates if file_wins else reversed(candidates):
            if value is not None:
                self.values[fact], self.sources[fact] = value, source
                return
        if needed:
            reason = self.discovery.problems.get(endpoint, f"{endpoint} did not give it")
            self.gaps[fact] = f"not in the markets file; {reason}" if self.file_source else reason

    def take_file_only(self, fact: str, *, needed: bool) -> None:
        value = getattr(self.in_file, fact) if self.in_file else None
        if value is not None:
            self.values[fact], self.sources[fact] = value, self.file_source
        elif needed:
            self.gaps[fact] = "not in the markets file (the venue does not publish it)"


def merge_market_facts(
    profile: Profile,
    symbols: Sequence[str],
    markets_file: MarketsFile | None,
    discovery: Discovery,
) -> MarketsReport:
    """The facts of ``symbols`` from the file and the venue (pure).

    Raises :class:`MarketFactsError` for a symbol nobody knows or whose leverage band is unknown or empty.
    """
    endpoints = _Endpoints.of(profile)
    brackets_source = _Endpoints.source(endpoints.brackets)
    info_source = _Endpoints.source(endpoints.exchange_info)
    band_source = brackets_source if profile.band_source == "brackets" else info_source
    errors: list[str] = []
    facts: list[MarketFacts] = []
    disagreements: list[FactDisagreement] = []
    missing: dict[str, dict[str, str]] = {}

    for symbol in symbols:
        in_file = markets_file.symbols.get(symbol) if markets_file else None
        venue = discovery.markets.get(symbol)
        if in_file is None and venue is None:
            unlisted = discovery.listed is not None and symbol not in discovery.listed
            why = "not listed by the venue" if unlisted else "the venue gave no facts about it"
            errors.append(f"{symbol}: not in the markets file and {why}")
            continue
        merge = _SymbolMerge(symbol, in_file, venue, markets_file.source if markets_file else "", discovery)
        merge.take("max_leverage", file_wins=True, endpoint=band_source)
        merge.take("brackets", file_wins=True, endpoint=brackets_source, needed=_needs_brackets(profile))
        merge.take_file_only("max_position_size_usd", needed=profile.notional_rule == "max_position_size_usd")
        for fact in ("min_qty", "step_size", "min_notional"):
            merge.take(fact, file_wins=False, endpoint=info_source)
        merge.take("price", file_wins=False, endpoint=_Endpoints.source(endpoints.ticker))
        if profile.band_source == "brackets":
            # binance-usdm: the band is 1 .. initialLeverage of bracket 1, whatever min_leverage says.
            brackets = merge.values.get("brackets")
            merge.values["min_leverage"] = 1
            merge.sources["min_leverage"] = (
                f"{merge.sources['brackets']} (the band starts at 1)" if brackets else "the band starts at 1"
            )
            if brackets:
                merge.values["max_leverage"] = brackets[0].initial_leverage
                merge.sources["max_leverage"] = merge.sources["brackets"]
        else:
            merge.take_file_only("min_leverage", needed=False)
            if "min_leverage" not in merge.values:
                merge.values["min_leverage"] = 1
                merge.sources["min_leverage"] = "assumed"
        disagreements.extend(merge.disagreements)

        values, sources = merge.values, merge.sources
        if "max_leverage" not in values:
            errors.append(f"{symbol}: no max leverage: {merge.gaps['max_leverage']}")
            continue
        if values["min_leverage"] > values["max_leverage"]:
            errors.append(
                f"{symbol}: min leverage {values['min_leverage']} ({sources['min_leverage']}) is above "
                f"max leverage {values['max_leverage']} ({sources['max_leverage']})"
            )
            continue
        if merge.gaps:
            missing[symbol] = merge.gaps
        facts.append(
            MarketFacts(
                symbol=symbol,
                min_leverage=values["min_leverage"],
                max_leverage=values["max_leverage"],
                max_position_size_usd=values.get("max_position_size_usd"),
                brackets=values.get("brackets", ()),
                price=values.get("price"),
                min_qty=values.get("min_qty"),
                step_size=values.get("step_size"),
                min_notional=values.get("min_notional"),
                sources=sources,
            )
        )
    if errors:
        raise MarketFactsError("; ".join(errors))
    return MarketsReport(tuple(facts), tuple(disagreements), missing, dict(discovery.problems))


async def gather_market_facts(
    client: httpx.AsyncClient,
    profile: Profile,
    *,
    auth: httpx.Auth | None,
    markets_file: MarketsFile | None = None,
    symbols: Sequence[str] | None = None,
    discover: bool = True,
) -> MarketsReport:
    """The market facts of a run.

    The run's symbols: ``symbols`` (``--symbols``) when given, else every symbol of the markets file, else
    every trading symbol the venue lists. Discovery asks only about the run's symbols, so with a markets
    file it covers at most the file's symbols (plus any that ``--symbols`` names). ``auth`` signs
    ``leverageBracket`` (the engine's :class:`~conformance.signing.VenueSigner`); ``discover=False`` uses
    the file alone.
    """
    requested: tuple[str, ...] | None = None
    if symbols:
        requested = tuple(dict.fromkeys(symbols))
    elif markets_file is not None:
        requested = tuple(markets_file.symbols)
    discovery = Discovery()
    if discover:
        discovery = await discover_markets(client, profile, auth=auth, symbols=requested)
    if requested is None:
        if not discovery.listed:
            reasons = "; ".join(discovery.problems.values()) or "the venue lists no trading symbol"
            raise MarketFactsError(f"no symbols: no markets file and none discovered ({reasons})")
        requested = discovery.listed
    return merge_market_facts(profile, requested, markets_file, discovery)
