"""URL building: exact URLs for awkward names, and round trips back to the names."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_wheel_offset.protocol import urls
from custom_wheel_offset.protocol.records import PreferenceSet, VehicleId

API = "https://www.enthusiastenterprises.us/fitment/vehicle/co"
STORE = "https://www.customwheeloffset.com"

# Every character the brief names as awkward, in one set of names.
AWKWARD = VehicleId(
    2024,
    "Mercedes-Benz & Co+",
    "F-250/350 Super Duty",
    '50% #1? It\'s "LX", é/š',
    "LX ",
)
AWKWARD_PATH = (
    "2024/Mercedes-Benz%20%26%20Co%2B/F-250%2F350%20Super%20Duty/"
    "50%25%20%231%3F%20It%27s%20%22LX%22%2C%20%C3%A9%2F%C5%A1/LX%20"
)


def test_years_url_keeps_one_trailing_slash() -> None:
    assert urls.years_url(API) == f"{API}/"
    assert urls.years_url(API + "/") == f"{API}/"
    assert urls.years_url(API + "//") == f"{API}/"


def test_tree_urls_exact() -> None:
    assert urls.makes_url(API, 2024) == f"{API}/2024"
    assert urls.models_url(API + "/", 2024, "Mercedes-Benz") == f"{API}/2024/Mercedes-Benz"
    assert (
        urls.model_info_url(API, 2021, "Ford", "F-250/350 Super Duty")
        == f"{API}/2021/Ford/F-250%2F350%20Super%20Duty"
    )
    assert (
        urls.drives_url(API, 2021, "Ford", "F-250/350 Super Duty", "King Ranch  ")
        == f"{API}/offsetguide/2021/Ford/F-250%2F350%20Super%20Duty/trim/King%20Ranch%20%20/drives"
    )


def test_vehicle_url_encodes_every_awkward_character() -> None:
    assert urls.vehicle_url(API, AWKWARD) == f"{API}/{AWKWARD_PATH}"


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("A/B", "A%2FB"),
        ("A&B", "A%26B"),
        ("A+B", "A%2BB"),
        ("100%", "100%25"),
        ("#1", "%231"),
        ("Why?", "Why%3F"),
        ("It's", "It%27s"),
        ('2-4"', "2-4%22"),
        ("a,b", "a%2Cb"),
        ("é", "%C3%A9"),
        ("š", "%C5%A1"),
        ("LX ", "LX%20"),
        ("Double  Space", "Double%20%20Space"),
        (" lead", "%20lead"),
        ("a~b_c.d-e", "a~b_c.d-e"),
    ],
)
def test_one_segment(name: str, encoded: str) -> None:
    assert urls.models_url(API, 2024, name) == f"{API}/2024/{encoded}"


def test_empty_segment_is_a_bug() -> None:
    with pytest.raises(ValueError, match="empty"):
        urls.models_url(API, 2024, "")


def test_select_vehicle_url_exact() -> None:
    got = urls.select_vehicle_url(STORE, AWKWARD, "Car", None)
    assert got == (
        f"{STORE}/api/ymm-temp.php?store=wheels&type=set&vehicle_type=Car&year=2024"
        "&make=Mercedes-Benz%20%26%20Co%2B&model=F-250%2F350%20Super%20Duty"
        "&trim=50%25%20%231%3F%20It%27s%20%22LX%22%2C%20%C3%A9%2F%C5%A1&drive=LX%20&chassis="
    )
    with_chassis = urls.select_vehicle_url(STORE + "/", AWKWARD, "Truck", "12 34")
    assert with_chassis.endswith("&drive=LX%20&chassis=12%2034")
    assert with_chassis.startswith(
        f"{STORE}/api/ymm-temp.php?store=wheels&type=set&vehicle_type=Truck&"
    )


@pytest.mark.parametrize(
    ("which", "flag"),
    [("suspension", "getSuspension"), ("trimming", "getTrimming"), ("rubbing", "getRubbing")],
)
def test_options_url_exact(which: str, flag: str) -> None:
    assert urls.options_url(STORE, "Car & Truck", which) == (
        f"{STORE}/api/ymm-temp.php?type=set&vehicle_type=Car%20%26%20Truck&store=wheels&{flag}=true"
    )


def test_options_url_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown option kind"):
        urls.options_url(STORE, "Car", "Suspension")


def test_fitment_url_exact() -> None:
    prefs = PreferenceSet('Lifted 2-4"', "Minor Plastic Trimming", "Slight rub at full turn")
    got = urls.fitment_url(STORE, AWKWARD, "Car", "9876", prefs)
    assert got == (
        f"{STORE}/store/wheels?sort=instock&saleToggle=0&qdToggle=0&year=2024"
        "&make=Mercedes-Benz%20%26%20Co%2B&model=F-250%2F350%20Super%20Duty"
        "&trim=50%25%20%231%3F%20It%27s%20%22LX%22%2C%20%C3%A9%2F%C5%A1&drive=LX%20"
        "&DRChassisID=9876&vehicle_type=Car&suspension=Lifted%202-4%22"
        "&modification=Minor%20Plastic%20Trimming&rubbing=Slight%20rub%20at%20full%20turn"
    )
    no_chassis = urls.fitment_url(STORE, AWKWARD, "Car", None, prefs)
    assert "&DRChassisID=&vehicle_type=Car&" in no_chassis


# --------------------------------------------------------------------------- round trips


def _path_names(url: str, base: str) -> list[str]:
    path = url[len(base) + 1 :]
    return [unquote(segment) for segment in path.split("/")]


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def test_round_trip_awkward_names() -> None:
    assert _path_names(urls.vehicle_url(API, AWKWARD), API) == [
        "2024",
        AWKWARD.make,
        AWKWARD.model,
        AWKWARD.trim,
        AWKWARD.drive,
    ]
    query = _query(urls.select_vehicle_url(STORE, AWKWARD, "Car", None))
    assert query["make"] == [AWKWARD.make]
    assert query["trim"] == [AWKWARD.trim]
    assert query["drive"] == [AWKWARD.drive]
    assert query["chassis"] == [""]


# Names as the site might serve them: any text except the empty string (the
# parsers reject it) and lone surrogates (not text; hypothesis never makes them).
names = st.text(min_size=1, max_size=30)


@given(year=st.integers(1900, 2100), make=names, model=names, trim=names, drive=names)
def test_path_round_trip(year: int, make: str, model: str, trim: str, drive: str) -> None:
    vehicle = VehicleId(year, make, model, trim, drive)
    url = urls.vehicle_url(API, vehicle)
    assert _path_names(url, API) == [str(year), make, model, trim, drive]
    assert "?" not in url and "#" not in url
    drives = urls.drives_url(API, year, make, model, trim)
    assert _path_names(drives, API) == [
        "offsetguide",
        str(year),
        make,
        model,
        "trim",
        trim,
        "drives",
    ]


@given(
    make=names,
    model=names,
    trim=names,
    drive=names,
    vtype=names,
    chassis=st.none() | names,
    prefs=st.builds(PreferenceSet, names, names, names),
)
def test_query_round_trip(
    make: str,
    model: str,
    trim: str,
    drive: str,
    vtype: str,
    chassis: str | None,
    prefs: PreferenceSet,
) -> None:
    vehicle = VehicleId(2024, make, model, trim, drive)
    url = urls.fitment_url(STORE, vehicle, vtype, chassis, prefs)
    assert url.startswith(f"{STORE}/store/wheels?")
    query = _query(url)
    expected = {
        "sort": "instock",
        "saleToggle": "0",
        "qdToggle": "0",
        "year": "2024",
        "make": make,
        "model": model,
        "trim": trim,
        "drive": drive,
        "DRChassisID": chassis or "",
        "vehicle_type": vtype,
        "suspension": prefs.suspension,
        "modification": prefs.modification,
        "rubbing": prefs.rubbing,
    }
    assert query == {k: [v] for k, v in expected.items()}
    # Parameter order is the site's order.
    keys = [pair.split("=", 1)[0] for pair in urlsplit(url).query.split("&")]
    assert keys == list(expected)
    select = _query(urls.select_vehicle_url(STORE, vehicle, vtype, chassis))
    assert select["chassis"] == [chassis or ""]
    assert select["model"] == [model]
