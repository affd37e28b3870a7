"""The experiment store's falls codec: one encoder and one decoder of the ``falls`` column, and
no other module reading or writing that JSON by hand (issue 13: three decoders had grown)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd

from sim.experiments.store import decode_falls, encode_falls, falls_column

SIM = Path(__file__).resolve().parents[1] / "sim"


def test_falls_round_trip_keeps_every_place_and_date():
    falls = {"Vuhledar": "2024-02-23", "Avdiivka": "2024-01-31", "Kupiansk": "2024-11-20"}
    text = encode_falls(falls)
    assert list(decode_falls(text)) == sorted(falls)  # keys sorted: the same bytes every time
    assert decode_falls(text) == {p: date.fromisoformat(d) for p, d in falls.items()}
    assert encode_falls(dict(reversed(list(falls.items())))) == text


def test_falls_column_decodes_each_run_in_order():
    runs = pd.DataFrame({"falls": [encode_falls({"A": "2024-03-01"}), encode_falls({})]})
    assert falls_column(runs) == [{"A": date(2024, 3, 1)}, {}]


def _codes_falls(text: str) -> bool:
    """JSON coding of a falls cell: on a line that names falls, or of the loop variable of a
    loop over a ``["falls"]`` column up to three lines above."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        call = re.search(r"json\.(?:loads|dumps)\((\w*)", line)
        if not call:
            continue
        if "falls" in line:
            return True
        for above in lines[max(0, i - 3) : i]:
            loop = re.search(r"for (\w+) in .*\[\"falls\"\]", above)
            if loop and loop.group(1) == call.group(1):
                return True
    return False


def test_no_module_but_the_store_codes_the_falls_column():
    """A second decoder (``json.loads`` of a falls cell) or encoder anywhere else in ``sim``."""
    offenders = [
        str(p.relative_to(SIM))
        for p in SIM.rglob("*.py")
        if p.name != "store.py" and _codes_falls(p.read_text())
    ]
    assert offenders == []


def test_the_check_finds_the_decoders_main_had():
    """The check sees a decoder written as the report's and the calibration's were."""
    report = 'return [{p: d for p, d in json.loads(text).items()} for text in runs["falls"]]'
    calibration = 'for text in runs["falls"]:\n    when = json.loads(text).get(town)'
    assert _codes_falls(report) and _codes_falls(calibration)
    assert not _codes_falls("x = json.loads(text)\n\n\n\n\n\ny = 1")
