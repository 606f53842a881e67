"""How fast the demo data loads into SQL: ``python -m benchmarks.demo_load``.

Loads N seeded demo students (:func:`search_service.profiles.demo.load_demo`)
and N/10 demo gigs (:func:`search_service.gigs.demo.load_demo_gigs`) into a
fresh data dir (SQLite by default; ``GIGSY_DATABASE_URL`` for PostgreSQL, which
must be empty), then optionally loads the same students again (every row
unchanged). Prints wall seconds and rows/s of each step; nothing is indexed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from search_service.entities import ENTITIES
from search_service.gigs.demo import DemoVocabulary, load_demo_gigs
from search_service.profiles import demo_vocab
from search_service.profiles.demo import load_demo
from search_service.runtime import Runtime
from search_service.settings import Settings


def main() -> None:
    """Parse arguments, load, print one line per step."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=2000)
    parser.add_argument("--rerun", action="store_true", help="load the students again")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("GIGSY_EMBEDDING__MODEL", "hashing")
    with tempfile.TemporaryDirectory(prefix="demo-load-") as data_dir:
        rt = Runtime.open(Settings(data_dir=data_dir), entities=ENTITIES)
        try:
            t = time.perf_counter()
            report = load_demo(rt, count=args.profiles, progress=args.progress)
            _line("profiles", args.profiles, time.perf_counter() - t, report)
            vocab = DemoVocabulary(
                tracks=demo_vocab.TRACKS,
                cities=demo_vocab.CITIES,
                skill_labels=demo_vocab.SKILL_LABELS,
            )
            gigs = args.profiles // 10
            t = time.perf_counter()
            gig_report = load_demo_gigs(rt, vocab, count=gigs, progress=args.progress)
            _line("gigs", gigs, time.perf_counter() - t, gig_report)
            if args.rerun:
                t = time.perf_counter()
                report = load_demo(rt, count=args.profiles, progress=args.progress)
                _line("profiles again", args.profiles, time.perf_counter() - t, report)
        finally:
            rt.close()


def _line(step: str, rows: int, seconds: float, report: object) -> None:
    print(f"{step}: {rows} in {seconds:.1f} s = {rows / max(seconds, 1e-9):.0f}/s  {report}")


if __name__ == "__main__":
    main()
