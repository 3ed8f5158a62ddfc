"""Generate api_response.json: a fake, deterministic page of orders from a shop's API.

The file stands in for what `GET /orders?created_after=2026-03-01` would return:
one page (`next_page` is null) of order records created between 2026-03-01 and
2026-03-28 (UTC), with the dirt real sources have:

- about 3% of orders repeated (pagination overlap), as exact copies a little later;
- about 2% with a null amount or a null customer email;
- a few negative amounts, unparsable timestamps and unparsable amounts ("n/a");
- amounts sent as strings ("12.50"), emails in mixed case or with whitespace,
  timestamps in UTC ("Z"), with milliseconds, or with a +01:00 offset.

All names and emails are made up and use the reserved example.* domains.

Regenerate (the output is the same byte for byte on every run and machine):

    python example_project/data/generate.py
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

SEED = 20260301
OUTPUT = Path(__file__).parent / "api_response.json"

FIRST_DAY = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 28  # 2026-03-01 .. 2026-03-28
ORDERS_PER_DAY = 155
WEEKEND_FACTOR = 1.3
CUSTOMERS = 900
FIRST_ORDER_ID = 100_001
PARIS = timezone(timedelta(hours=1))  # CET; daylight saving starts on 2026-03-29

# Probabilities of each kind of dirt, per order.
DUPLICATE = 0.03
NULL_AMOUNT = 0.01
NULL_EMAIL = 0.01
NEGATIVE_AMOUNT = 0.004
BAD_AMOUNT = 0.002
BAD_TIMESTAMP = 0.004
AMOUNT_AS_STRING = 0.06
MESSY_EMAIL = 0.08

FIRST_NAMES = [
    "ana", "ben", "chloe", "david", "elena", "farid", "grace", "hugo", "ines", "jonas",
    "kemal", "lea", "mateo", "nora", "oscar", "priya", "quentin", "rosa", "sven", "tara",
    "umar", "vera", "wei", "ximena", "yusuf", "zoe",
]  # fmt: skip
LAST_NAMES = [
    "alvarez", "becker", "costa", "dubois", "eriksen", "fischer", "garcia", "haddad",
    "ivanova", "jansen", "kowalski", "lopez", "martin", "nowak", "okafor", "petit",
    "rossi", "schmidt", "tanaka", "usman", "varga", "weber", "yilmaz", "zhang",
]  # fmt: skip
DOMAINS = ["example.com", "example.org", "example.net"]
STATUSES = ["paid", "shipped", "delivered"]
STATUS_WEIGHTS = [0.55, 0.3, 0.15]
BAD_TIMESTAMPS = [
    "", "not available", "2026-02-30T10:15:00Z", "07/03/2026 10:15", "2026-03-07 25:61",
]  # fmt: skip


def make_customers(rng: random.Random) -> list[tuple[str, str]]:
    """(customer_id, email) pairs with unique emails."""
    customers, seen = [], set()
    for number in range(1, CUSTOMERS + 1):
        email = ""
        while not email or email in seen:
            suffix = rng.randint(1, 99) if email else ""
            local = f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}{suffix}"
            email = f"{local}@{rng.choice(DOMAINS)}"
        seen.add(email)
        customers.append((f"cus_{number:05d}", email))
    return customers


def make_instants(rng: random.Random) -> list[datetime]:
    """When each order was created, busier at weekends and in the evening, sorted."""
    instants = []
    for day in range(DAYS):
        midnight = FIRST_DAY + timedelta(days=day)
        factor = WEEKEND_FACTOR if midnight.weekday() >= 5 else 1.0
        for _ in range(round(ORDERS_PER_DAY * factor * rng.uniform(0.8, 1.2))):
            seconds = int(rng.triangular(0, 24 * 3600 - 1, 19 * 3600))
            instants.append(midnight + timedelta(seconds=seconds))
    return sorted(instants)


def format_timestamp(rng: random.Random, instant: datetime) -> str:
    """ISO 8601, in one of the shapes the API is known to send."""
    shape = rng.random()
    if shape < BAD_TIMESTAMP:
        return rng.choice(BAD_TIMESTAMPS)
    if shape < 0.7:
        return instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    if shape < 0.8:
        return instant.strftime("%Y-%m-%dT%H:%M:%S") + f".{rng.randint(0, 999):03d}Z"
    return instant.astimezone(PARIS).isoformat()


def format_amount(rng: random.Random, amount: float) -> float | str | None:
    """A positive amount, sometimes as a string, null, negative or garbage."""
    dirt = rng.random()
    if dirt < NULL_AMOUNT:
        return None
    dirt -= NULL_AMOUNT
    if dirt < NEGATIVE_AMOUNT:
        return -amount
    dirt -= NEGATIVE_AMOUNT
    if dirt < BAD_AMOUNT:
        return "n/a"
    dirt -= BAD_AMOUNT
    if dirt < AMOUNT_AS_STRING:
        return f"{amount:.2f}"
    return amount


def format_email(rng: random.Random, email: str) -> str | None:
    """The customer's email, sometimes null, in mixed case or padded with whitespace."""
    dirt = rng.random()
    if dirt < NULL_EMAIL:
        return None
    if dirt < NULL_EMAIL + MESSY_EMAIL:
        messy = rng.choice([email.upper(), email.title(), email.capitalize(), email])
        return rng.choice(["", " ", "  ", "\t"]) + messy + rng.choice(["", " ", "\n"])
    return email


def make_orders(rng: random.Random) -> list[dict[str, object]]:
    """All orders in id order, with duplicates inserted shortly after their original."""
    customers = make_customers(rng)
    # A few customers order a lot, most order rarely.
    weights = [1 / (rank + 1) ** 0.7 for rank in range(len(customers))]
    orders = []
    for order_id, instant in enumerate(make_instants(rng), start=FIRST_ORDER_ID):
        customer_id, email = rng.choices(customers, weights=weights)[0]
        amount = round(rng.lognormvariate(3.6, 0.7), 2)
        orders.append(
            {
                "id": order_id,
                "customer_id": customer_id,
                "customer_email": format_email(rng, email),
                "amount": format_amount(rng, amount),
                "currency": "EUR",
                "created_at": format_timestamp(rng, instant),
                "status": rng.choices(STATUSES, weights=STATUS_WEIGHTS)[0],
            }
        )
    positioned = [(float(index), order) for index, order in enumerate(orders)]
    for index, order in enumerate(orders):
        if rng.random() < DUPLICATE:
            positioned.append((index + rng.randint(1, 50) + 0.5, dict(order)))
    return [order for _, order in sorted(positioned, key=lambda pair: pair[0])]


def render(orders: list[dict[str, object]]) -> str:
    """Compact JSON with one order per line, so that diffs of the file stay readable."""
    lines = ",\n".join(json.dumps(order, separators=(",", ":")) for order in orders)
    return f'{{"count":{len(orders)},"next_page":null,"results":[\n{lines}\n]}}\n'


def main() -> None:
    orders = make_orders(random.Random(SEED))
    OUTPUT.write_text(render(orders), encoding="utf-8")
    print(f"wrote {len(orders)} orders to {OUTPUT}")


if __name__ == "__main__":
    main()
