"""Generate ``golden_buckets.json``: the bucketing spec's test vectors (docs/bucketing.md).

Run ``.venv/bin/python tests/rollout/make_golden_buckets.py`` to rewrite the file. The
buckets are computed here from the spec with ``hashlib`` alone, independently of
``stagewise.rollout.bucketing``; ``test_golden_buckets.py`` checks the library against
them. Another implementation proves it agrees by reproducing every vector.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import date, timedelta
from pathlib import Path

OUT = Path(__file__).with_name("golden_buckets.json")
BUCKETS = 10_000
SALTS = [
    "probability_calibration:5c2d8e0f1a3b4c6d",
    "entry_prediction_model",
    "",
    "日本語の機能:ソルト",
    "feature-🚀-" + "x" * 300,
]


def salted_bucket(salt: str, unit_text: str) -> int:
    """The spec: BLAKE2b with an 8-byte digest over UTF-8(salt) ':' UTF-8(id), multiply-shift to 10,000."""
    digest = hashlib.blake2b(salt.encode("utf-8") + b":" + unit_text.encode("utf-8"), digest_size=8).digest()
    return (int.from_bytes(digest, "big") * BUCKETS) >> 64


def legacy_bucket(unit_text: str) -> int:
    """The seed system: int(md5(str(race_id)).hexdigest(), 16) % 100."""
    return int(hashlib.md5(unit_text.encode("utf-8")).hexdigest(), 16) % 100


def unit_ids(rng: random.Random) -> list[int | str]:
    """About 2,700 ids covering every class of input the spec names."""
    ids: list[int | str] = [0, 1, -1, 7, 10, 99, 100, 2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63]
    ids += [2**64, 2**64 + 1, -(2**63), -(2**64), 10**30, -(10**30)]
    ids += ["", "0", "1", "-1", "007", "1.0", "1e3", " 12", "12 ", "+5", "0x1F", "None", "True", "null"]
    ids += ["日本語", "レース", "桐生", "🚀", "\U0001f469\u200d\U0001f467", "ｆｕｌｌｗｉｄｔｈ"]
    ids += ["\u00e9", "e\u0301", "\u0000", "\t\n", "a:b", ":"]  # precomposed vs combining: different bytes
    ids += ["x" * 10_000, "日" * 10_000, "🚀" * 2_500, "0123456789" * 1_000]
    ids += list(range(100))  # the seed's test ids
    ids += [f"{d:%Y%m%d}{v:02d}{r:02d}" for d in _days() for v in (1, 12, 24) for r in (1, 6, 12)]
    ids += [rng.randrange(-(10**12), 10**12) for _ in range(800)]
    ids += [rng.randrange(0, 2**64) for _ in range(200)]
    ids += [str(rng.randrange(0, 10**12)) for _ in range(500)]
    alphabet = "abcxyzABC0189-_:/ 日本語ボートレース🚀éß"
    ids += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40))) for _ in range(900)]
    ids += ["r" * rng.randrange(100, 3_000) for _ in range(3)]
    return ids


def _days() -> list[date]:
    return [date(2025, 11, 1) + timedelta(days=i) for i in range(0, 60, 7)]


def main() -> None:
    rng = random.Random(20251122)
    ids = unit_ids(rng)
    vectors: list[list[object]] = []
    for index, salt in enumerate(SALTS):
        # The 300-character salt only gets a sample, to keep the file small.
        for unit in ids if index < 4 else ids[::20]:
            kind = "int" if isinstance(unit, int) else "str"
            vectors.append([index, kind, str(unit), salted_bucket(salt, str(unit))])
    legacy = [
        ["int" if isinstance(u, int) else "str", str(u), legacy_bucket(str(u))] for u in ids if not _long(u)
    ]
    document = {
        "format_version": 1,
        "spec": "docs/bucketing.md",
        "hash": "blake2b, digest_size=8, no key",
        "message": "UTF-8(salt) + b':' + UTF-8(id text); an int id's text is its decimal form",
        "bucket": "(uint64_big_endian(digest) * 10000) >> 64",
        "buckets": BUCKETS,
        "salts": SALTS,
        "vectors_columns": ["salt_index", "id_type", "id_text", "bucket"],
        "vectors": vectors,
        "legacy": {
            "bucket": "int(md5(UTF-8(id text)).hexdigest(), 16) % 100",
            "vectors_columns": ["id_type", "id_text", "bucket"],
            "vectors": legacy,
        },
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    OUT.write_text(text.replace("],[", "],\n[") + "\n", encoding="utf-8")
    print(f"wrote {len(vectors)} salted and {len(legacy)} legacy vectors to {OUT}")


def _long(unit: int | str) -> bool:
    return isinstance(unit, str) and len(unit) > 100


if __name__ == "__main__":
    main()
