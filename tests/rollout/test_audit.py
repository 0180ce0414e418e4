"""The hash chain: any single edit, deletion, insertion or swap is detected (Hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise.rollout.audit import GENESIS, canonical_json, entry_hash, seal, verify_chain

records = st.lists(
    st.fixed_dictionaries(
        {
            "action": st.sampled_from(["add_feature", "set_stage", "kill", "hold"]),
            "feature": st.text(min_size=1, max_size=12),
            "reason": st.one_of(st.none(), st.text(max_size=20)),
            "new_stage": st.sampled_from(["disabled", "10%", "50%", "100%"]),
        }
    ),
    min_size=2,
    max_size=12,
)


def chain(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    prev = GENESIS
    for seq, record in enumerate(items, start=1):
        entry = seal(record, seq=seq, prev_hash=prev)
        out.append(entry)
        prev = entry["hash"]
    return out


@settings(max_examples=150, deadline=None)
@given(items=records, data=st.data())
def test_every_single_tampering_is_detected(items: list[dict[str, Any]], data: st.DataObject) -> None:
    entries = chain(items)
    assert verify_chain(entries).ok
    assert verify_chain([canonical_json(e) for e in entries]).ok  # raw JSON lines too
    i = data.draw(st.integers(0, len(entries) - 1))
    kind = data.draw(st.sampled_from(["edit", "delete", "swap", "insert", "rehash-edit"]))
    tampered = [dict(e) for e in entries]
    if kind == "edit":
        tampered[i]["reason"] = f"{tampered[i]['reason']}!"
    elif kind == "rehash-edit":  # edit and recompute the entry's own hash: the next link breaks instead
        tampered[i]["reason"] = f"{tampered[i]['reason']}!"
        tampered[i]["hash"] = entry_hash(tampered[i])
        if i == len(tampered) - 1:
            report = verify_chain(tampered, expected_head=entries[-1])
            assert not report.ok
            return
    elif kind == "delete":
        del tampered[i]
        if i == len(entries) - 1:  # a cut tail is only visible against the recorded head
            assert verify_chain(tampered).ok
            assert not verify_chain(tampered, expected_head=entries[-1]).ok
            return
    elif kind == "swap":
        j = (i + 1) % len(tampered)
        tampered[i], tampered[j] = tampered[j], tampered[i]
    else:
        tampered.insert(i, dict(tampered[i]))
    assert not verify_chain(tampered, expected_head=entries[-1]).ok


def test_a_line_that_is_not_json_is_reported_with_its_number() -> None:
    entries = [canonical_json(e) for e in chain([{"action": "a"}, {"action": "b"}])]
    report = verify_chain([entries[0], entries[1][:-5]])
    assert not report.ok
    assert report.problems[0].startswith("line 2: not valid JSON")
