"""The freshness and refresh benchmarks: their pure helpers, and the refresh harness
in-process on a few demo profiles with the hashing encoder."""

from __future__ import annotations

import random
import re
from pathlib import Path

from benchmarks.freshness import (
    HEADLINE_MAX,
    Edit,
    FreshnessReport,
    edited_headline,
    free_port,
    new_tokens,
    parse_metrics,
    strip_tokens,
)
from benchmarks.refresh import format_results, run_refresh
from indexers import Bm25Encoder
from search_service.settings import EmbeddingSettings, QdrantSettings, Settings

TOKEN = re.compile(r"^zq[a-z]{8}$")


def test_tokens_are_distinct_well_formed_and_seeded() -> None:
    tokens = new_tokens(500, random.Random(7))
    assert len(set(tokens)) == 500
    assert all(TOKEN.match(t) for t in tokens)
    assert new_tokens(5, random.Random(7)) == tokens[:5]
    assert new_tokens(5, random.Random(8)) != tokens[:5]


def test_a_token_is_one_bm25_term_of_its_own() -> None:
    tok = new_tokens(1, random.Random(1))[0]
    bm25 = Bm25Encoder()
    assert len(bm25.encode_document(tok)) == 1
    assert bm25.encode_document(f"Barista {tok}").indices != bm25.encode_document("Barista").indices


def test_a_run_never_repeats_tokens_when_rngs_are_unseeded() -> None:
    assert set(new_tokens(20, random.Random())).isdisjoint(new_tokens(20, random.Random()))


def test_edited_headline_appends_and_fits() -> None:
    assert edited_headline("Barista", "zqabcdefgh") == "Barista zqabcdefgh"
    assert edited_headline("", "zqabcdefgh") == "zqabcdefgh"
    long = edited_headline("x" * HEADLINE_MAX, "zqabcdefgh")
    assert len(long) == HEADLINE_MAX and long.endswith(" zqabcdefgh")


def test_strip_tokens_removes_only_benchmark_tokens() -> None:
    assert strip_tokens("Barista zqabcdefgh  at  night") == "Barista at night"
    assert strip_tokens("zqabcdefgh") == ""
    # Not a token: wrong length or prefix, or part of a longer word.
    kept = "zqabc zqabcdefghi xzqabcdefgh zebra"
    assert strip_tokens(kept) == kept
    assert strip_tokens(edited_headline("Barista", "zqabcdefgh")) == "Barista"


def test_parse_metrics_reads_unlabelled_samples_in_the_given_order() -> None:
    text = "\n".join(
        [
            "# HELP gigsy_profiles_stale Stale users.",
            "# TYPE gigsy_profiles_stale gauge",
            "gigsy_profiles_stale 3.0",
            'gigsy_refresh_duration_seconds_bucket{le="0.5"} 2.0',
            "gigsy_refresh_duration_seconds_count 4.0",
            "gigsy_refresh_duration_seconds_sum 1.25",
            "gigsy_refresh_profiles_per_second 17.5",
            "gigsy_profiles_embedded_created 1.7e9",
        ]
    )
    got = parse_metrics(text)
    assert got == {
        "gigsy_refresh_profiles_per_second": 17.5,
        "gigsy_refresh_duration_seconds_count": 4.0,
        "gigsy_refresh_duration_seconds_sum": 1.25,
        "gigsy_profiles_stale": 3.0,
    }
    assert list(got) == [
        "gigsy_refresh_profiles_per_second",
        "gigsy_refresh_duration_seconds_count",
        "gigsy_refresh_duration_seconds_sum",
        "gigsy_profiles_stale",
    ]
    assert parse_metrics(text, ["gigsy_profiles_stale", "absent"]) == {"gigsy_profiles_stale": 3}


def test_report_summary_counts_failures_and_percentiles() -> None:
    edits = [Edit(1, f"zq{i:0>8}", 10.0 + i, 100.0 * (i + 1), i + 1) for i in range(4)]
    edits.append(Edit(2, "zqtimedout", 50.0, None, 1500))
    rep = FreshnessReport(
        edits=edits,
        metrics={
            "gigsy_refresh_duration_seconds_count": 4.0,
            "gigsy_refresh_duration_seconds_sum": 2.0,
        },
    )
    assert rep.failures == 1
    text = rep.summary()
    assert "edits=5  failures=1" in text
    # Latencies 100..400 ms of the four found edits; the timeout is not a latency.
    assert "p50=250.0 ms" in text and "max=400.0 ms" in text
    assert "PATCH response: p50=12.0 ms" in text
    assert "mean refresh run that did work: 500.0 ms" in text


def test_report_summary_when_nothing_became_searchable() -> None:
    rep = FreshnessReport(edits=[Edit(1, "zqabcdefgh", 5.0, None, 3)])
    assert rep.failures == 1
    assert "no edit became searchable" in rep.summary()


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
    assert 0 < port < 65536


def test_refresh_benchmark_reembeds_changed_texts_and_reuses_touched_ones(
    tmp_path: Path,
) -> None:
    var = tmp_path / "var"
    settings = Settings(
        data_dir=var,
        database_url=f"sqlite:///{var / 'gigsy.db'}",
        embedding=EmbeddingSettings(model="hashing"),
        qdrant=QdrantSettings(url=None),
    )
    steps: list[str] = []
    text, stamp, one, again = run_refresh(settings, profiles=12, on_step=steps.append)
    assert steps, "progress messages were not reported"
    assert (text.scenario, text.touched, text.stale_after) == ("text changed", 12, 0)
    assert (text.report.indexed, text.report.embedded, text.report.reused) == (12, 12, 0)
    assert text.report.failed == [] and text.report.seconds > 0
    assert (stamp.scenario, stamp.touched, stamp.stale_after) == ("timestamp only", 12, 0)
    assert (stamp.report.indexed, stamp.report.embedded, stamp.report.reused) == (12, 0, 12)
    assert (one.touched, one.report.indexed, one.report.reused, one.stale_after) == (1, 1, 1, 0)
    assert (again.scenario, again.touched, again.stale_after) == ("reindex unchanged", 12, 0)
    assert (again.report.indexed, again.report.embedded, again.report.reused) == (12, 0, 12)
    table = format_results([text, stamp]).splitlines()
    assert len(table) == 3 and table[1].split()[:5] == ["text", "changed", "12", "12", "0"]


def test_refresh_benchmark_with_no_profiles_times_nothing(tmp_path: Path) -> None:
    var = tmp_path / "var"
    settings = Settings(
        data_dir=var,
        database_url=f"sqlite:///{var / 'gigsy.db'}",
        embedding=EmbeddingSettings(model="hashing"),
        qdrant=QdrantSettings(url=None),
    )
    results = run_refresh(settings, profiles=0)
    assert [r.report.indexed for r in results] == [0, 0, 0, 0]
