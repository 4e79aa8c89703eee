"""Hand-written samples for measuring the token estimate against a real BPE tokenizer.

Each English and code sample is several KB of the kind of text chat requests carry; the
non-English and whitespace-heavy ones are shorter and only reported. Written for this test, not
copied from anywhere.
"""

from __future__ import annotations

import base64
import json
import random
import re

PROSE = """\
The lighthouse at the end of the breakwater was built in 1871, when the harbour still smelled of
tar and salt fish, and for most of its life it was tended by families who lived in the narrow
stone cottage at its foot. The keepers kept logs. They wrote down the weather every four hours,
the ships that passed, the oil they burned and the wicks they trimmed, and in the margins they
wrote about everything else: a child's fever, a storm that took the roof off the coal shed, the
winter the bay froze so hard that a baker walked across it with a basket of bread.

Reading those logs today is a strange experience. The handwriting changes every few decades, and
so does the tone. The first keeper, a retired sailor named Thomas Hale, wrote in short, almost
military sentences. "Wind north-east, strong. Light lit at 4.52. Brig passed outward bound.
Nothing to report." His successor was his daughter, Margaret, who took over the light after her
father's eyes failed, and who was paid less than he had been for exactly the same work. Her
entries are longer and more curious. She noticed the birds, the colour of the water before a
gale, and the way the fishermen argued about the price of herring on the quay below.

What strikes a modern reader most is how much of the work was maintenance. A lighthouse is not a
machine that runs by itself; it is a machine that is constantly, quietly failing. Lenses had to
be polished every morning, because a film of soot from the lamp could cut the light's range by a
third. Clockwork that turned the lens had to be wound through the night. Brass fittings
corroded, glass panes cracked in the frost, and the iron gallery rail rusted faster than anyone
could paint it. The keepers' real skill was not lighting the lamp but noticing, early, the small
things that would eventually put it out.

In 1936 the light was converted to electricity, and the keepers' duties shrank. By 1962 an
automatic system could switch the lamp on at dusk and off at dawn, and a single technician
visited once a month from the town. The cottage was sold, then rented to summer visitors, and
finally turned into a small museum run by volunteers. Its most popular exhibit is not the great
lens, which is impressive but hard to understand, but a cabinet of ordinary objects: a tin
kettle, a darning needle, a child's wooden boat, and a pair of spectacles with one lens missing.

There is a lesson in all this for anyone who builds systems that other people depend on. We tend
to celebrate the moment of creation: the launch, the opening, the first night the light shines
across the water. But the value of a lighthouse was never in the night it was first lit. It was
in the ten thousand nights after that, when someone climbed the stairs in the cold, checked the
wick, wound the clock and wrote "nothing to report" in the log. Reliability is not a feature you
add at the end. It is a habit, practised daily, by people whose names are rarely remembered.

Modern engineers have their own versions of the keeper's log. We write incident reports, keep
dashboards of error rates and latency, and hold meetings where we ask what went wrong and how to
prevent it next time. The best of these practices share the keepers' honesty. A good log does not
hide the night the light went out; it records the time, the cause and what was done about it, so
that the next person on duty knows what to watch for. A bad log is either empty or full of
excuses, and in both cases it teaches nothing.

It is also worth remembering that the keepers were not heroes in the usual sense. Most of their
nights were boring. The drama that survives in the logs, a wreck, a rescue, a storm that lasted
three days, is the exception that makes the routine visible. If you asked Margaret Hale what her
job was, she would probably not have said "saving lives". She would have said that she kept the
glass clean and the clock wound, and that the rest followed from that. That answer sounds modest,
but it contains the whole philosophy of careful work: do the small things properly, every time,
and the large things usually take care of themselves.

The museum closes for the winter at the end of October. On the last day, the volunteers climb to
the lantern room, polish the old lens one more time, and sign their names in a new logbook that
sits on the keeper's desk. It is a small ceremony, and nobody outside the town has heard of it.
But it seems right that the building should still be looked after by people who write things
down, even though the light itself no longer needs them.
"""

PYTHON = '''\
"""A small, thread-safe cache with expiry, and a command-line tool to inspect it."""

from __future__ import annotations

import argparse
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass(slots=True)
class Entry(Generic[V]):
    value: V
    expires_at: float
    hits: int = 0


@dataclass
class Stats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    expired: int = 0
    history: list[tuple[float, str]] = field(default_factory=list)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class ExpiringCache(Generic[K, V]):
    """Least-recently-used cache whose entries also expire after `ttl` seconds.

    Reads move an entry to the end of the order; when the cache is full the entry at the front
    (the one used least recently) is evicted. Expired entries are removed lazily, on access, and
    in bulk by `purge()`.
    """

    def __init__(self, capacity: int = 1024, ttl: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity!r}")
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl!r}")
        self._capacity = capacity
        self._ttl = ttl
        self._clock = clock
        self._data: OrderedDict[K, Entry[V]] = OrderedDict()
        self._lock = threading.RLock()
        self.stats = Stats()

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            entry = self._data.get(key)  # type: ignore[call-overload]
            return entry is not None and entry.expires_at > self._clock()

    def get(self, key: K, default: V | None = None) -> V | None:
        now = self._clock()
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                self.stats.misses += 1
                return default
            if entry.expires_at <= now:
                del self._data[key]
                self.stats.expired += 1
                self.stats.misses += 1
                return default
            self._data.move_to_end(key)
            entry.hits += 1
            self.stats.hits += 1
            return entry.value

    def put(self, key: K, value: V, ttl: float | None = None) -> None:
        expires_at = self._clock() + (ttl if ttl is not None else self._ttl)
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
            self._data[key] = Entry(value, expires_at)
            while len(self._data) > self._capacity:
                evicted, _ = self._data.popitem(last=False)
                self.stats.evictions += 1
                self.stats.history.append((self._clock(), f"evicted {evicted!r}"))

    def get_or_compute(self, key: K, compute: Callable[[K], V]) -> V:
        """Return the cached value, computing and storing it on a miss (at most once per key)."""
        value = self.get(key)
        if value is not None:
            return value
        with self._lock:
            value = self.get(key)
            if value is None:
                value = compute(key)
                self.put(key, value)
            return value

    def purge(self) -> int:
        now = self._clock()
        with self._lock:
            stale = [k for k, e in self._data.items() if e.expires_at <= now]
            for k in stale:
                del self._data[k]
            self.stats.expired += len(stale)
            return len(stale)

    def items(self) -> Iterator[tuple[K, V]]:
        with self._lock:
            snapshot = list(self._data.items())
        now = self._clock()
        for key, entry in snapshot:
            if entry.expires_at > now:
                yield key, entry.value


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Exercise the expiring cache.")
    parser.add_argument("--capacity", type=int, default=128, help="maximum number of entries")
    parser.add_argument("--ttl", type=float, default=2.5, help="seconds before an entry expires")
    parser.add_argument("--keys", type=int, default=1000, help="how many lookups to perform")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    cache: ExpiringCache[int, str] = ExpiringCache(capacity=args.capacity, ttl=args.ttl)
    for i in range(args.keys):
        key = (i * 7919) % (args.capacity * 2)
        cache.get_or_compute(key, lambda k: f"value-{k:05d}")
        if args.verbose and i % 100 == 0:
            print(f"{i:6d} lookups, {len(cache):4d} entries, hit rate {cache.stats.hit_rate:.2%}")
    print(f"hits={cache.stats.hits} misses={cache.stats.misses} evictions={cache.stats.evictions}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
'''

JSON = """\
{
  "object": "list",
  "data": [
    {
      "id": "ord_7Hq2KxP9mW3vL8nR",
      "object": "order",
      "created_at": "2024-11-03T14:22:09Z",
      "status": "shipped",
      "customer": {
        "id": "cus_41ZbT6yQe2",
        "name": "Amelia Robertson",
        "email": "amelia.robertson@example.com",
        "phone": "+44 20 7946 0958",
        "address": {
          "line1": "14 Harbour Street",
          "line2": "Flat 3",
          "city": "Whitby",
          "postal_code": "YO21 3PU",
          "country": "GB"
        }
      },
      "items": [
        {"sku": "LMP-0042", "name": "Brass storm lantern", "quantity": 1, "unit_price": 4850, "currency": "gbp"},
        {"sku": "WCK-0007", "name": "Cotton wick, pack of 12", "quantity": 3, "unit_price": 399, "currency": "gbp"},
        {"sku": "OIL-1L", "name": "Paraffin lamp oil, 1 litre", "quantity": 2, "unit_price": 725, "currency": "gbp"}
        ],
      "totals": {"subtotal": 7497, "shipping": 495, "tax": 1499, "discount": 0, "total": 9491},
      "shipment": {
        "carrier": "royal_mail",
        "tracking_number": "RM482910374GB",
        "shipped_at": "2024-11-04T09:15:00Z",
        "estimated_delivery": "2024-11-06",
        "events": [
          {"at": "2024-11-04T09:15:00Z", "location": "York Mail Centre", "status": "accepted"},
          {"at": "2024-11-04T21:40:12Z", "location": "York Mail Centre", "status": "in_transit"},
          {"at": "2024-11-05T06:02:47Z", "location": "Scarborough Delivery Office", "status": "out_for_delivery"}
        ]
      },
      "metadata": {"channel": "web", "campaign": "autumn-sale", "gift": "false"},
      "notes": null
    },
    {
      "id": "ord_9Jr4MzT1aB6cD0eF",
      "object": "order",
      "created_at": "2024-11-05T08:47:31Z",
      "status": "processing",
      "customer": {
        "id": "cus_88KcW3pLm9",
        "name": "Daniel Okafor",
        "email": "d.okafor@example.org",
        "phone": null,
        "address": {
          "line1": "221 Quayside",
          "line2": null,
          "city": "Newcastle upon Tyne",
          "postal_code": "NE1 3DX",
          "country": "GB"
        }
      },
      "items": [
        {"sku": "LNS-FRS-3", "name": "Fresnel lens replica, third order", "quantity": 1,
         "unit_price": 125000, "currency": "gbp"},
        {"sku": "STD-OAK", "name": "Oak display stand", "quantity": 1, "unit_price": 18900, "currency": "gbp"}
      ],
      "totals": {"subtotal": 143900, "shipping": 0, "tax": 28780, "discount": 7195, "total": 165485},
      "shipment": null,
      "metadata": {"channel": "phone", "sales_rep": "rep_022", "gift": "true",
                   "gift_message": "Happy retirement, Tom!"},
      "notes": "Customer asked for delivery after 5pm on weekdays."
    },
    {
      "id": "ord_2Lp8QsV5hN7kG3wY",
      "object": "order",
      "created_at": "2024-11-05T17:03:55Z",
      "status": "cancelled",
      "customer": {
        "id": "cus_17HdR5tXv4",
        "name": "Sofia Marquez",
        "email": "sofia.marquez@example.net",
        "phone": "+34 912 345 678",
        "address": {
          "line1": "Calle del Puerto 8",
          "line2": "2B",
          "city": "Santander",
          "postal_code": "39004",
          "country": "ES"
        }
      },
      "items": [
        {"sku": "MAP-CST-1890", "name": "Coastal chart, 1890 reprint", "quantity": 2, "unit_price": 2250,
         "currency": "eur"}
      ],
      "totals": {"subtotal": 4500, "shipping": 1200, "tax": 945, "discount": 0, "total": 6645},
      "shipment": null,
      "cancellation": {"reason": "requested_by_customer", "at": "2024-11-06T10:11:02Z", "refund_id": "re_3Mx0Nq6Ty1"},
      "metadata": {},
      "notes": null
    }
  ],
  "has_more": true,
  "next_cursor": "eyJjcmVhdGVkX2F0IjoiMjAyNC0xMS0wNVQxNzowMzo1NVoiLCJpZCI6Im9yZF8yTHA4In0",
  "request_id": "req_5f0c2a9e8b1d4e73a6c2",
  "rate_limit": {"limit": 1000, "remaining": 987, "reset_seconds": 42.5}
}
"""

JAVASCRIPT = """\
// Debounced search box with keyboard navigation and an abortable fetch.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

const DEFAULT_DELAY_MS = 250;
const MAX_RESULTS = 20;

export function debounce(fn, delay = DEFAULT_DELAY_MS) {
  let timer = null;
  const debounced = (...args) => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      fn(...args);
    }, delay);
  };
  debounced.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  return debounced;
}

async function fetchResults(query, { signal, baseUrl = "/api/search" } = {}) {
  const url = new URL(baseUrl, window.location.origin);
  url.searchParams.set("q", query);
  url.searchParams.set("limit", String(MAX_RESULTS));
  const response = await fetch(url, { signal, headers: { Accept: "application/json" } });
  if (!response.ok) {
    const text = await response.text().catch(() => "");
    throw new Error(`search failed: ${response.status} ${response.statusText} ${text}`.trim());
  }
  const body = await response.json();
  return Array.isArray(body.results) ? body.results.slice(0, MAX_RESULTS) : [];
}

export function useSearch(initialQuery = "") {
  const [query, setQuery] = useState(initialQuery);
  const [results, setResults] = useState([]);
  const [status, setStatus] = useState("idle"); // idle | loading | done | error
  const [error, setError] = useState(null);
  const controllerRef = useRef(null);

  const run = useMemo(
    () =>
      debounce(async (q) => {
        controllerRef.current?.abort();
        if (!q.trim()) {
          setResults([]);
          setStatus("idle");
          return;
        }
        const controller = new AbortController();
        controllerRef.current = controller;
        setStatus("loading");
        try {
          const found = await fetchResults(q, { signal: controller.signal });
          if (!controller.signal.aborted) {
            setResults(found);
            setStatus("done");
            setError(null);
          }
        } catch (err) {
          if (err.name === "AbortError") return;
          setError(err);
          setStatus("error");
        }
      }),
    []
  );

  useEffect(() => {
    run(query);
    return () => run.cancel();
  }, [query, run]);

  useEffect(() => () => controllerRef.current?.abort(), []);

  return { query, setQuery, results, status, error };
}

export function SearchBox({ onSelect, placeholder = "Search orders, customers, products..." }) {
  const { query, setQuery, results, status, error } = useSearch();
  const [active, setActive] = useState(-1);
  const listId = "search-results";

  useEffect(() => setActive(-1), [results]);

  const onKeyDown = useCallback(
    (event) => {
      switch (event.key) {
        case "ArrowDown":
          event.preventDefault();
          setActive((i) => Math.min(i + 1, results.length - 1));
          break;
        case "ArrowUp":
          event.preventDefault();
          setActive((i) => Math.max(i - 1, 0));
          break;
        case "Enter":
          if (active >= 0 && active < results.length) {
            event.preventDefault();
            onSelect?.(results[active]);
          }
          break;
        case "Escape":
          setQuery("");
          break;
        default:
          break;
      }
    },
    [active, results, onSelect, setQuery]
  );

  return (
    <div className="search-box" role="combobox" aria-expanded={results.length > 0} aria-owns={listId}>
      <input
        type="search"
        value={query}
        placeholder={placeholder}
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={onKeyDown}
        aria-autocomplete="list"
        aria-controls={listId}
        aria-activedescendant={active >= 0 ? `${listId}-${active}` : undefined}
      />
      {status === "loading" && <span className="spinner" aria-label="Loading" />}
      {status === "error" && <p className="error">Something went wrong: {error?.message}</p>}
      <ul id={listId} role="listbox">
        {results.map((item, index) => (
          <li
            key={item.id}
            id={`${listId}-${index}`}
            role="option"
            aria-selected={index === active}
            className={index === active ? "active" : ""}
            onMouseEnter={() => setActive(index)}
            onClick={() => onSelect?.(item)}
          >
            <strong>{item.title}</strong>
            {item.subtitle ? <small> &mdash; {item.subtitle}</small> : null}
          </li>
        ))}
      </ul>
    </div>
  );
}
"""

MARKDOWN = """\
# Harbour Archive

A small web service that stores scanned lighthouse logbooks, transcribes them, and lets
volunteers search, correct and annotate the transcriptions.

## Features

- **Upload** scans as JPEG, PNG or PDF (up to 50 MB per file).
- **Transcribe** pages automatically, then review them side by side with the scan.
- **Search** across every logbook by keyword, date range, keeper or weather condition.
- **Annotate** entries with notes, tags and links to other entries.
- **Export** a logbook as Markdown, CSV or a printable PDF.

## Quick start

You need Python 3.11 or newer and PostgreSQL 15.

```bash
git clone https://example.com/harbour-archive.git
cd harbour-archive
python -m venv .venv && source .venv/bin/activate
pip install -e ".[dev]"
createdb harbour
export DATABASE_URL=postgresql://localhost/harbour
harbour migrate
harbour serve --port 8080
```

Then open <http://localhost:8080> and sign in with the account printed by `harbour migrate`.

## Configuration

Settings are read from environment variables. The most useful ones:

| Variable | Default | Meaning |
|----------|---------|---------|
| `DATABASE_URL` | *(required)* | PostgreSQL connection string |
| `HARBOUR_STORAGE` | `./scans` | Where uploaded scans are kept |
| `HARBOUR_MAX_UPLOAD_MB` | `50` | Largest accepted file |
| `HARBOUR_OCR_WORKERS` | `2` | Parallel transcription jobs |
| `HARBOUR_SESSION_DAYS` | `14` | How long a login lasts |
| `HARBOUR_PUBLIC_READ` | `false` | Let anonymous visitors search |

> **Note:** transcription is CPU-heavy. On a small server, keep `HARBOUR_OCR_WORKERS` at 1 or 2
> and let the queue drain overnight.

## Data model

Each **logbook** has many **pages**; each page has one or more **entries**. An entry records:

1. the date and time written by the keeper,
2. wind direction and strength, if noted,
3. the text of the entry, as transcribed,
4. zero or more *annotations* added by volunteers.

Corrections never overwrite the original transcription. They are stored as revisions, so you can
always see what the machine read, what a volunteer changed, and when.

## API

The service exposes a small JSON API under `/api/v1`:

- `GET /api/v1/logbooks` &mdash; list logbooks, newest first.
- `GET /api/v1/logbooks/{id}/pages?cursor=...` &mdash; pages of one logbook.
- `GET /api/v1/search?q=storm&from=1880-01-01&to=1890-12-31` &mdash; full-text search.
- `POST /api/v1/entries/{id}/annotations` &mdash; add an annotation (requires login).

Example:

```python
import httpx

r = httpx.get("http://localhost:8080/api/v1/search", params={"q": "froze", "limit": 5})
r.raise_for_status()
for hit in r.json()["results"]:
    print(hit["date"], hit["keeper"], hit["snippet"])
```

## Contributing

Bug reports and pull requests are welcome. Before opening a pull request:

- run `make check` (formatting, linting, type checks and tests);
- add a test for any behaviour you change;
- keep commits small and describe *why*, not only *what*.

See `CONTRIBUTING.md` for the full guide, and `docs/architecture.md` for an overview of the
modules and how a scan travels from upload to searchable text.

## Licence

MIT. The scans themselves belong to the museum trust and are published under CC BY-NC 4.0.
"""

# Reported only: other languages and layouts where BPE behaves differently from English.

FRENCH = """\
Le phare au bout de la jetée fut construit en 1871, à une époque où le port sentait encore le
goudron et le poisson salé. Pendant la plus grande partie de son histoire, il fut entretenu par des
familles qui habitaient la petite maison de pierre à son pied. Les gardiens tenaient un registre :
ils notaient le temps toutes les quatre heures, les navires qui passaient, l'huile qu'ils
brûlaient et les mèches qu'ils taillaient. Dans les marges, ils écrivaient tout le reste — la
fièvre d'un enfant, une tempête qui avait arraché le toit de la remise à charbon, l'hiver où la
baie avait gelé si fort qu'un boulanger l'avait traversée à pied avec un panier de pain.
"""

GERMAN = """\
Der Leuchtturm am Ende der Mole wurde 1871 gebaut, als der Hafen noch nach Teer und Salzfisch
roch. Die meiste Zeit seines Bestehens wurde er von Familien betreut, die in dem schmalen
Steinhäuschen an seinem Fuß wohnten. Die Wärter führten Logbücher: Sie notierten alle vier
Stunden das Wetter, die vorbeifahrenden Schiffe, den Ölverbrauch und die Dochtpflege. Am Rand
schrieben sie über alles andere – das Fieber eines Kindes, einen Sturm, der das Dach des
Kohlenschuppens abdeckte, und den Winter, in dem die Bucht so fest zufror, dass ein Bäcker mit
einem Brotkorb zu Fuß hinüberging.
"""

RUSSIAN = """\
Маяк в конце мола построили в 1871 году, когда в гавани ещё пахло дёгтем и солёной рыбой. Большую
часть своей истории он находился на попечении семей, живших в узком каменном домике у его
подножия. Смотрители вели журналы: каждые четыре часа записывали погоду, проходившие суда,
расход масла и состояние фитилей, а на полях писали обо всём остальном.
"""

CHINESE = """\
防波堤尽头的灯塔建于一八七一年，那时港口里还弥漫着焦油和咸鱼的气味。在它漫长的历史中，大部分时间都由住在塔脚下那间狭窄石屋里的家庭看守。
守塔人坚持写日志：每四个小时记录一次天气、经过的船只、燃烧的灯油和修剪的灯芯。在页边空白处，他们写下其他的一切——孩子的发烧、掀翻煤棚屋顶的风暴，以及海湾冻得结结实实、面包师提着一篮面包走过冰面的那个冬天。
"""

JAPANESE = """\
防波堤の先にある灯台は一八七一年に建てられた。当時の港にはまだタールと塩漬けの魚の匂いが漂っていた。灯台守たちは日誌をつけ、四時間ごとに天気や通過する船、燃やした油の量を書き留めた。
余白には、子どもの熱や、石炭小屋の屋根を吹き飛ばした嵐、湾が凍りついてパン屋が籠を抱えて氷の上を歩いて渡った冬のことなどが書かれている。
"""

WHITESPACE = (
    "    name          | port      | lit   | height_m\n"
    "    --------------+-----------+-------+---------\n"
    "    North Pier    | Whitby    | 1871  |     22.5\n"
    "    Saltwick      | Whitby    | 1858  |     13.0\n"
    "    Flamborough   | Bridlngtn | 1806  |     26.8\n"
    "\n\n\n"
    "\t\tdef nested():\n"
    "\t\t\t\tif   True :\n"
    "\t\t\t\t\t\treturn    [  1 ,  2 ,  3  ]\n"
    "\n\n"
    + "".join(" " * (4 * depth) + f"level_{depth}:\n" for depth in range(12))
    + "\n" * 20
    + "    " * 30 + "end\n"
) * 6

HTML = """\
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Opening hours &middot; Harbour Museum</title>
  <link rel="stylesheet" href="/static/css/site.css?v=3">
  <style>
    .hours { border-collapse: collapse; width: 100%; max-width: 36rem; }
    .hours th, .hours td { padding: 0.5rem 0.75rem; border-bottom: 1px solid #d8dde3; text-align: left; }
    .hours tr.closed td { color: #8a8f98; font-style: italic; }
    @media (max-width: 600px) { .hours { font-size: 0.9rem; } }
  </style>
</head>
<body class="page page-hours">
  <header class="site-header">
    <a class="logo" href="/"><img src="/static/img/logo.svg" alt="Harbour Museum" width="160" height="48"></a>
    <nav aria-label="Main">
      <ul>
        <li><a href="/visit/">Visit</a></li>
        <li><a href="/collections/">Collections</a></li>
        <li><a href="/events/" aria-current="page">Events</a></li>
        <li><a href="/support/">Support us</a></li>
      </ul>
    </nav>
  </header>
  <main id="content">
    <h1>Opening hours</h1>
    <p>The museum and the lighthouse gallery are open from April to October. Last entry to the
       lantern room is 30 minutes before closing, and the stairs (112 steps) are not suitable for
       young children or anyone who finds climbing difficult.</p>
    <table class="hours">
      <thead><tr><th scope="col">Day</th><th scope="col">Museum</th><th scope="col">Lantern room</th></tr></thead>
      <tbody>
        <tr><td>Monday</td><td colspan="2">Closed</td></tr>
        <tr><td>Tuesday&ndash;Friday</td><td>10:00&ndash;17:00</td><td>11:00&ndash;16:30</td></tr>
        <tr><td>Saturday</td><td>10:00&ndash;18:00</td><td>10:30&ndash;17:30</td></tr>
        <tr><td>Sunday</td><td>12:00&ndash;17:00</td><td>12:30&ndash;16:30</td></tr>
        <tr class="closed"><td>November&ndash;March</td><td colspan="2">Closed for the winter</td></tr>
      </tbody>
    </table>
    <form action="/newsletter/subscribe" method="post" class="newsletter">
      <label for="email">Get news about events and volunteering</label>
      <input type="email" id="email" name="email" required placeholder="you@example.com">
      <input type="hidden" name="csrf_token" value="4f1c9b2e7a">
      <button type="submit">Subscribe</button>
    </form>
  </main>
  <footer class="site-footer">
    <p>&copy; 2024 Harbour Museum Trust. Registered charity no. 1098765.</p>
    <script src="/static/js/site.js" defer></script>
  </footer>
</body>
</html>
"""

SQL = """\
-- Monthly visitor report: tickets, revenue and the share of returning visitors.
WITH tickets AS (
    SELECT t.id,
           t.visitor_id,
           t.sold_at,
           date_trunc('month', t.sold_at) AS month,
           t.price_pence,
           t.kind
      FROM ticket AS t
     WHERE t.sold_at >= DATE '2024-01-01'
       AND t.sold_at <  DATE '2025-01-01'
       AND t.refunded_at IS NULL
),
first_visit AS (
    SELECT visitor_id, min(sold_at) AS first_at
      FROM ticket
     GROUP BY visitor_id
)
SELECT to_char(k.month, 'YYYY-MM')                          AS month,
       count(*)                                             AS tickets,
       count(DISTINCT k.visitor_id)                         AS visitors,
       sum(k.price_pence) / 100.0                           AS revenue_gbp,
       round(avg(k.price_pence) / 100.0, 2)                 AS avg_price_gbp,
       count(*) FILTER (WHERE k.kind = 'family')            AS family_tickets,
       round(100.0 * count(DISTINCT k.visitor_id) FILTER (WHERE f.first_at < k.month)
             / nullif(count(DISTINCT k.visitor_id), 0), 1)  AS returning_pct
  FROM tickets AS k
  JOIN first_visit AS f ON f.visitor_id = k.visitor_id
 GROUP BY k.month
 ORDER BY k.month;

CREATE TABLE IF NOT EXISTS annotation (
    id           BIGSERIAL PRIMARY KEY,
    entry_id     BIGINT      NOT NULL REFERENCES entry (id) ON DELETE CASCADE,
    author_id    BIGINT      NOT NULL REFERENCES volunteer (id),
    body         TEXT        NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    tags         TEXT[]      NOT NULL DEFAULT '{}',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS annotation_entry_idx ON annotation (entry_id, created_at DESC);
CREATE INDEX IF NOT EXISTS annotation_tags_idx ON annotation USING gin (tags);

UPDATE entry
   SET weather = 'gale', updated_at = now()
 WHERE logbook_id = 17
   AND written_at BETWEEN '1883-01-12 00:00' AND '1883-01-14 23:59'
   AND weather IS NULL
RETURNING id, written_at;
"""

SHELL_LOG = """\
$ harbour migrate --database postgresql://localhost/harbour
2024-11-06 09:14:02,118 INFO  migrate: connected to postgresql 15.4 (server 127.0.0.1:5432)
2024-11-06 09:14:02,131 INFO  migrate: applying 0007_annotations.sql
2024-11-06 09:14:02,402 INFO  migrate: applying 0008_annotation_tags.sql
2024-11-06 09:14:02,417 WARN  migrate: index annotation_tags_idx already exists, skipping
2024-11-06 09:14:02,420 INFO  migrate: 2 migrations applied in 0.29s
$ harbour serve --port 8080 --workers 4
2024-11-06 09:14:05,006 INFO  server: listening on http://0.0.0.0:8080 (pid 48213)
2024-11-06 09:14:05,007 INFO  server: 4 workers, ocr queue size 0
2024-11-06 09:15:11,553 INFO  http: GET /api/v1/logbooks 200 12.4ms ua="Mozilla/5.0" ip=10.0.3.17
2024-11-06 09:15:12,090 INFO  http: GET /api/v1/logbooks/17/pages?cursor=eyJwIjo0MH0 200 31.8ms
2024-11-06 09:15:40,771 ERROR http: POST /api/v1/entries/90211/annotations 500 4.2ms
Traceback (most recent call last):
  File "/srv/harbour/harbour/api/annotations.py", line 58, in create
    annotation = await store.add_annotation(entry_id, user.id, body.text, body.tags)
  File "/srv/harbour/harbour/store/annotations.py", line 23, in add_annotation
    raise ValueError(f"tag too long: {tag!r}")
ValueError: tag too long: 'a-very-long-tag-that-nobody-should-ever-type-into-a-form'
2024-11-06 09:16:02,338 INFO  ocr: page 17/41 done in 8.91s (confidence 0.83, 412 words)
2024-11-06 09:16:11,902 INFO  ocr: page 17/42 done in 9.37s (confidence 0.79, 388 words)
$ df -h /srv
Filesystem      Size  Used Avail Use% Mounted on
/dev/nvme0n1p2  458G  301G  134G  70% /srv
$ ls -la /srv/harbour/scans | head -5
total 1842216
drwxr-x--- 43 harbour harbour    4096 Nov  6 09:16 .
drwxr-xr-x  6 harbour harbour    4096 Oct 30 18:02 ..
-rw-r----- 1 harbour harbour 48211932 Nov  2 11:40 logbook-0017-page-0041.tiff
-rw-r----- 1 harbour harbour 47990315 Nov  2 11:41 logbook-0017-page-0042.tiff
$ git log --oneline -3
9c41e0b Reject annotation tags longer than 40 characters with a clear error
3f7a2d1 OCR: retry pages whose confidence is below 0.6 at a higher resolution
b12e9aa Add monthly visitor report query
"""

RUST = """\
use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

/// A token bucket: `capacity` tokens, refilled at `rate` tokens per second.
#[derive(Debug, Clone)]
pub struct Bucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    updated: Instant,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed { remaining: u64 },
    Denied { retry_after: Duration },
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Allowed { remaining } => write!(f, "allowed ({remaining} left)"),
            Decision::Denied { retry_after } => write!(f, "denied, retry in {:.1}s", retry_after.as_secs_f64()),
        }
    }
}

impl Bucket {
    pub fn new(capacity: u64, rate: f64) -> Self {
        assert!(capacity > 0 && rate > 0.0, "capacity and rate must be positive");
        Self { capacity: capacity as f64, rate, tokens: capacity as f64, updated: Instant::now() }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.updated = now;
    }

    pub fn take(&mut self, cost: u64, now: Instant) -> Decision {
        self.refill(now);
        let cost = cost as f64;
        if self.tokens >= cost {
            self.tokens -= cost;
            Decision::Allowed { remaining: self.tokens.floor() as u64 }
        } else {
            let missing = cost - self.tokens;
            Decision::Denied { retry_after: Duration::from_secs_f64(missing / self.rate) }
        }
    }
}

/// One bucket per key, created on first use.
#[derive(Default)]
pub struct Limiter {
    buckets: HashMap<String, Bucket>,
    capacity: u64,
    rate: f64,
}

impl Limiter {
    pub fn new(capacity: u64, rate: f64) -> Self {
        Self { buckets: HashMap::new(), capacity, rate }
    }

    pub fn check(&mut self, key: &str, cost: u64) -> Decision {
        let (capacity, rate) = (self.capacity, self.rate);
        self.buckets
            .entry(key.to_owned())
            .or_insert_with(|| Bucket::new(capacity, rate))
            .take(cost, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denies_when_empty_and_refills_over_time() {
        let start = Instant::now();
        let mut bucket = Bucket::new(2, 1.0);
        assert_eq!(bucket.take(2, start), Decision::Allowed { remaining: 0 });
        assert!(matches!(bucket.take(1, start), Decision::Denied { .. }));
        assert!(matches!(bucket.take(1, start + Duration::from_millis(1500)), Decision::Allowed { .. }));
    }
}
"""

YAML = """\
# Deployment settings for the archive service.
service:
  name: harbour-archive
  image: registry.example.com/harbour/archive:2.4.1
  replicas: 3
  port: 8080
  env:
    DATABASE_URL: postgresql://harbour@db.internal:5432/harbour
    HARBOUR_STORAGE: /data/scans
    HARBOUR_OCR_WORKERS: "2"
    HARBOUR_PUBLIC_READ: "true"
  resources:
    requests: {cpu: 500m, memory: 768Mi}
    limits: {cpu: "2", memory: 2Gi}
  probes:
    liveness:
      path: /healthz
      initial_delay_seconds: 10
      period_seconds: 15
    readiness:
      path: /readyz
      period_seconds: 5
      failure_threshold: 3
ocr:
  engine: tesseract
  languages: [eng, lat]
  dpi: 300
  retry_below_confidence: 0.6
  schedule:
    - cron: "0 2 * * *"
      job: drain-queue
      timeout: 4h
    - cron: "30 3 * * 0"
      job: reindex-search
      timeout: 90m
alerts:
  - name: ocr-queue-backlog
    expr: harbour_ocr_queue_length > 500
    for: 30m
    severity: warning
    summary: "OCR queue has {{ $value }} pages waiting"
  - name: api-error-rate
    expr: sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.02
    for: 10m
    severity: critical
    summary: "More than 2% of API requests are failing"
"""

DIFF = """\
diff --git a/harbour/store/annotations.py b/harbour/store/annotations.py
index 3b1f0c2..9c41e0b 100644
--- a/harbour/store/annotations.py
+++ b/harbour/store/annotations.py
@@ -12,14 +12,20 @@ from harbour.db import Database

 MAX_BODY = 4000
+MAX_TAG = 40
+MAX_TAGS = 12


 async def add_annotation(db: Database, entry_id: int, author_id: int, body: str,
                          tags: list[str]) -> int:
     if not 1 <= len(body) <= MAX_BODY:
         raise ValueError(f"body must be 1 to {MAX_BODY} characters")
-    for tag in tags:
-        if len(tag) > 64:
-            raise ValueError(f"tag too long: {tag!r}")
+    if len(tags) > MAX_TAGS:
+        raise ValueError(f"at most {MAX_TAGS} tags, got {len(tags)}")
+    for tag in tags:
+        if len(tag) > MAX_TAG:
+            raise ValueError(f"tag longer than {MAX_TAG} characters: {tag[:MAX_TAG]!r}...")
+    tags = sorted({t.strip().lower() for t in tags if t.strip()})
     row = await db.fetchrow(
         "INSERT INTO annotation (entry_id, author_id, body, tags) VALUES ($1, $2, $3, $4) RETURNING id",
         entry_id, author_id, body, tags,
diff --git a/tests/test_annotations.py b/tests/test_annotations.py
index 77aa010..5d02e6f 100644
--- a/tests/test_annotations.py
+++ b/tests/test_annotations.py
@@ -40,6 +40,18 @@ async def test_annotation_round_trip(db):
     assert row["tags"] == ["storm", "wreck"]


+async def test_long_tags_are_refused_with_the_limit_named(db):
+    with pytest.raises(ValueError, match="longer than 40 characters"):
+        await add_annotation(db, 1, 1, "note", ["x" * 41])
+
+
+async def test_tags_are_normalised_and_deduplicated(db):
+    annotation_id = await add_annotation(db, 1, 1, "note", [" Storm", "storm", "", "WRECK"])
+    row = await db.fetchrow("SELECT tags FROM annotation WHERE id = $1", annotation_id)
+    assert row["tags"] == ["storm", "wreck"]
+
+
 async def test_annotation_body_limits(db):
     with pytest.raises(ValueError):
         await add_annotation(db, 1, 1, "", [])
"""

CSV = "date,keeper,wind_dir,wind_force,weather,ships_passed,oil_pints,notes\n" + "".join(
    f"1883-01-{day:02d},{keeper},{wind},{force},{weather},{ships},{oil:.1f},{note}\n"
    for day, keeper, wind, force, weather, ships, oil, note in [
        (d, ("T. Hale", "M. Hale")[d % 2], ("N", "NE", "E", "SE", "S", "SW", "W", "NW")[d * 3 % 8], d * 7 % 10,
         ("fair", "rain", "fog", "gale", "snow")[d * 5 % 5 if d % 4 else 3], d * 13 % 9, 4.5 + (d % 5) * 0.5,
         ("", "lens polished", "wick trimmed twice", "brig Mary Ann passed outward", "clock stopped at 02.10")[d % 5])
        for d in range(1, 32)
    ]
)

GREEK = (
    "Ο φάρος στην άκρη του κυματοθραύστη χτίστηκε το 1871, όταν το λιμάνι μύριζε ακόμη πίσσα και "
    "αλατισμένο ψάρι. Οι φύλακες κρατούσαν ημερολόγια και κατέγραφαν τον καιρό κάθε τέσσερις ώρες, "
    "τα πλοία που περνούσαν και το λάδι που έκαιγαν.\n"
) * 3

ARABIC = (
    "بُنيت المنارة في نهاية حاجز الأمواج عام 1871، عندما كان الميناء لا يزال تفوح منه رائحة القطران "
    "والسمك المملح. كان حراس المنارة يكتبون سجلات يومية يدونون فيها الطقس كل أربع ساعات.\n"
) * 3

KOREAN = (
    "방파제 끝에 있는 등대는 1871년에 세워졌다. 등대지기들은 네 시간마다 날씨와 지나가는 배, "
    "태운 기름의 양을 일지에 적었다.\n"
) * 3

HINDI = (
    "ब्रेकवाटर के अंत में स्थित प्रकाशस्तंभ 1871 में बनाया गया था। रखवाले हर चार घंटे में मौसम, "
    "गुजरने वाले जहाज़ और जलाए गए तेल का हिसाब लिखते थे।\n"
) * 3

EMOJI = "Great job 🎉🎉 see you tomorrow 👋😀 the lighthouse 🗼🌊 is open ✅ and the café ☕ too 👍🏽\n" * 8

_RNG = random.Random(12)
BASE64 = "\n".join(base64.b64encode(_RNG.randbytes(57)).decode() for _ in range(30)) + "\n"
IDS = "".join(f"{_RNG.getrandbits(128):032x} req_{_RNG.getrandbits(64):016x}\n" for _ in range(40))

# LLM answers use typographic quotes and dashes (3-byte UTF-8 each).
TYPOGRAPHIC_PROSE = re.sub(r'"([^"]*)"', "\u201c\\1\u201d", PROSE.replace("'", "\u2019")).replace(", a ", " \u2014 a ")

# Bounded: the estimate may not fall more than a few percent below the real count on these.
ENGLISH_AND_CODE: dict[str, str] = {
    "prose": PROSE,
    "prose (typographic quotes)": TYPOGRAPHIC_PROSE,
    "python": PYTHON,
    "json (pretty)": JSON,
    "json (compact)": json.dumps(json.loads(JSON), separators=(",", ":")),
    "javascript": JAVASCRIPT,
    "markdown": MARKDOWN,
    "html": HTML,
    "sql": SQL,
    "shell + log": SHELL_LOG,
    "rust": RUST,
    "yaml": YAML,
    "diff": DIFF,
    "csv": CSV,
}

# Reported only.
REPORTED_ONLY: dict[str, str] = {
    "french": FRENCH,
    "german": GERMAN,
    "russian": RUSSIAN,
    "chinese": CHINESE,
    "japanese": JAPANESE,
    "greek": GREEK,
    "arabic": ARABIC,
    "korean": KOREAN,
    "hindi": HINDI,
    "emoji": EMOJI,
    "whitespace-heavy": WHITESPACE,
    "base64": BASE64,
    "hex ids": IDS,
}
