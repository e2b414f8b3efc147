"""Fitment-API parsers on saved bodies and on hand-made edge cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from custom_wheel_offset.errors import ParseError, TruncatedBodyError
from custom_wheel_offset.protocol.api import (
    is_forbidden,
    load_json,
    parse_model_info,
    parse_names,
    parse_vehicle,
    parse_years,
)
from custom_wheel_offset.protocol.records import AxleSpec, ModelInfo

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "protocol"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


# --------------------------------------------------------------------------- JSON


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "[",
        '["Acura", "BM',
        '["Acura", ',
        '{"vehicleType": ["Car"], "drive": "4W',
        '{"hub": 64.',
        '{"hub": 1e',
        '{"hub": -',
        "[tr",
        "[nul",
        '{"a"',
        '{"a":',
        '["\\u00',
        '["\\',
    ],
)
def test_cut_short_json_is_truncated(text: str) -> None:
    with pytest.raises(TruncatedBodyError, match=r"cut short|empty"):
        load_json(text.encode(), "makes")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[1, 2]x", "line 1 column 7"),
        ("{'a': 1}", "line 1 column 2"),
        ("[1,,2]", "line 1 column 4"),
        ("[trux]", "line 1 column 2"),
        ('["a"\n "b"]', "line 2 column 2"),
        ("<html><title>Oops</title></html>", "line 1 column 1"),
        ("[01]", "line 1"),
        ('["a\tb"]', "line 1"),
    ],
)
def test_wrong_json_is_a_parse_error_with_position(text: str, where: str) -> None:
    with pytest.raises(ParseError) as info:
        load_json(text.encode(), "makes")
    assert not isinstance(info.value, TruncatedBodyError)
    assert where in info.value.reason
    assert info.value.reason.startswith("makes: body is not valid JSON")


def test_non_utf8_body() -> None:
    with pytest.raises(ParseError, match="makes: body is not UTF-8") as info:
        load_json(b'["Citro\xebn"]', "makes")
    assert not isinstance(info.value, TruncatedBodyError)


def test_body_cut_inside_a_utf8_character_is_truncated() -> None:
    with pytest.raises(TruncatedBodyError):
        load_json('["Škoda'.encode()[:-5], "makes")  # ends after the first byte of "Š"


def test_bom_is_tolerated_and_deep_nesting_is_an_error() -> None:
    assert load_json(b'\xef\xbb\xbf["Acura"]', "makes") == ["Acura"]
    with pytest.raises(ParseError, match="nested too deeply"):
        load_json(b"[" * 100_000 + b"]" * 100_000, "makes")


def test_huge_integer_literal_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not usable JSON"):
        load_json(b"[" + b"9" * 5000 + b"]", "years")


# --------------------------------------------------------------------------- years


def test_years_fixture() -> None:
    assert parse_years(fixture("years.json")) == [2026, 2025, 2024, 2023, 2022]


def test_years_bare_value_and_empty() -> None:
    assert parse_years(b'"2024"') == [2024]
    assert parse_years(b"[]") == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ([2024, True], "item 1 is a boolean"),
        ([2024.0], "item 0 is a float"),
        (["20x4"], "item 0 = '20x4' is not a year"),
        (["２０２４"], "is not a year"),  # full-width digits are not ASCII digits
        ([1899], "outside 1900..2100"),
        (["2101"], "outside 1900..2100"),
        ([None], "item 0 is null"),
        ([[2024]], "item 0 is a list"),
        ({"years": [2024]}, "got an object"),
    ],
)
def test_years_rejects(value: Any, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_years(body(value))


# --------------------------------------------------------------------------- names


def test_names_fixtures() -> None:
    assert parse_names(fixture("makes.json"), "makes") == [
        "Acura",
        "BMW",
        "Mercedes-Benz",
        "Škoda",
        "Citroën",
        "Land Rover ",
    ]
    # 86 as a string and as a number are the same model; "LX" and "LX " are not.
    assert parse_names(fixture("models.json"), "models") == [
        "F-250/350 Super Duty",
        "86",
        "Model S & X",
        "LX",
        "LX ",
        "C-HR (2WD)",
    ]
    assert parse_names(fixture("drives.json"), "drives") == ["2WD", "4WD", "AWD"]


def test_names_bare_and_empty() -> None:
    assert parse_names(b'"Civic"', "models") == ["Civic"]
    assert parse_names(b"86", "models") == ["86"]
    assert parse_names(b"[]", "models") == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (["Civic", ""], "models: item 1 is an empty string"),
        (["Civic", None], "models: item 1 is null"),
        ([1.5], "models: item 0 is a float"),
        ([False], "models: item 0 is a boolean"),
        ([{"name": "Civic"}], "models: item 0 is an object"),
        ([["Civic"]], "models: item 0 is a list"),
        ({"Civic": 1}, "models: expected a JSON list of names, got an object"),
        (None, "models: item 0 is null"),
        ("", "models: item 0 is an empty string"),
    ],
)
def test_names_rejects(value: Any, reason: str) -> None:
    with pytest.raises(ParseError, match=reason.replace("(", r"\(")):
        parse_names(body(value), "models")


def test_names_reject_lone_surrogate() -> None:
    with pytest.raises(ParseError, match="not valid Unicode"):
        parse_names(b'["\\ud800"]', "makes")


# --------------------------------------------------------------------------- model info


def test_model_info_fixture() -> None:
    assert parse_model_info(fixture("model_info.json")) == ModelInfo(
        vehicle_types=("Truck", "Car"),
        drives=("4WD",),
        trims=("XLT", "Lariat", "King Ranch", "Platinum #2"),
    )


@pytest.mark.parametrize("empty", [None, "", [], "missing"])
def test_model_info_empty_values(empty: Any) -> None:
    obj: dict[str, Any] = {"vehicleType": "Car", "drive": ["FWD", 4], "trim": empty}
    if empty == "missing":
        del obj["trim"]
    assert parse_model_info(body(obj)) == ModelInfo(("Car",), ("FWD", "4"), ())


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (["Car"], "expected a JSON object, got a list"),
        ("Car", "expected a JSON object, got a string"),
        ({"trim": ["LX", None]}, "key 'trim': item 1 is null"),
        ({"trim": {"LX": 1}}, "key 'trim': expected a JSON list"),
        ({"drive": [""]}, "key 'drive': item 0 is an empty string"),
        ({"vehicleType": True}, "key 'vehicleType': item 0 is a boolean"),
    ],
)
def test_model_info_rejects(value: Any, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_model_info(body(value))


# --------------------------------------------------------------------------- vehicle


def test_vehicle_square_fixture() -> None:
    raw = fixture("vehicle_square.json")
    spec = parse_vehicle(raw)
    assert spec.vehicle_type == "Car"
    assert spec.chassis_id == "91234"
    assert (spec.bolt_pattern_mm, spec.bolt_pattern_in) == ("5x114.3", "5x4.5")
    assert spec.hub_bore_mm == 64.1
    assert (spec.lug_type, spec.lug_size) == ("Lug Nut", "M12 x 1.5")
    assert spec.front == AxleSpec(18.0, 8.0, 45.0, "235/40R18", 17.0, 20.0, 7.0, 9.5)
    assert spec.rear is spec.front  # null / "" rear keys: a square car
    assert spec.raw == json.loads(raw)
    assert spec.raw["notes"] == ["unknown keys are kept in raw"]


def test_vehicle_staggered_fixture() -> None:
    spec = parse_vehicle(fixture("vehicle_staggered.json"))
    assert spec.chassis_id == "77001"
    assert spec.hub_bore_mm == 66.6
    assert spec.front == AxleSpec(19.0, 8.5, 40.0, "245/35R19", 19.0, 21.0, 8.5, 9.5)
    assert spec.rear == AxleSpec(19.0, 10.0, 47.0, "285/30R19", 19.0, 21.0, 10.0, 11.5)


def test_one_rear_key_makes_a_car_staggered() -> None:
    spec = parse_vehicle(
        body({"stockWheelDiameter": 18, "wheelWidthMax": 9, "stockOffsetRear": "+50"})
    )
    assert spec.front == AxleSpec(stock_diameter=18.0, width_max=9.0)
    # Rear fields come from *Rear keys only: the front diameter is not copied.
    assert spec.rear == AxleSpec(stock_offset=50.0)


def test_vehicle_empty_object_is_all_none() -> None:
    spec = parse_vehicle(b"{}")
    assert spec.vehicle_type is spec.chassis_id is spec.hub_bore_mm is None
    assert spec.front == spec.rear == AxleSpec()
    assert spec.raw == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (17, 17.0),
        (17.5, 17.5),
        ("17", 17.0),
        ("17.5", 17.5),
        ("17.", 17.0),
        (" 18 ", 18.0),
        ("+18", 18.0),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_vehicle_number_forms(value: Any, expected: float | None) -> None:
    assert parse_vehicle(body({"stockWheelDiameter": value})).front.stock_diameter == expected


@pytest.mark.parametrize("value", ["-12", "+35", "0", "-150", "200"])
def test_vehicle_signed_offsets(value: str) -> None:
    assert parse_vehicle(body({"stockOffset": value})).front.stock_offset == float(value)


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"hub": "abc"}, "vehicle: key 'hub' = 'abc' is not a number"),
        ({"stockWheelDiameter": "17in"}, "key 'stockWheelDiameter' = '17in' is not a number"),
        ({"stockWheelWidth": True}, "key 'stockWheelWidth' = True is a boolean"),
        ({"stockOffset": [35]}, r"key 'stockOffset' = \[35\] is a list"),
        ({"stockOffset": {"v": 35}}, "key 'stockOffset' = .* is an object"),
        ({"stockWheelDiameter": "NaN"}, "is not a number"),
        ({"stockWheelDiameter": "1e3"}, "is not a number"),
        ({"hub": 10**400}, "key 'hub' = .* is too large"),
        ({"hub": 0}, "key 'hub' = 0 mm is outside 30..250 mm"),
        ({"hub": 251}, "outside 30..250"),
        ({"stockWheelDiameter": 7.5}, "key 'stockWheelDiameter' = 7.5 in is outside 8..40 in"),
        ({"wheelDiameterMax": 41}, "outside 8..40"),
        ({"stockWheelWidth": 2.5}, "outside 3..20"),
        ({"wheelWidthMaxRear": 21}, "key 'wheelWidthMaxRear' .* outside 3..20"),
        ({"stockOffset": -151}, "outside -150..200"),
        ({"stockOffsetRear": "+201"}, "outside -150..200"),
        (
            {"wheelDiameterMin": 20, "wheelDiameterMax": 17},
            "front wheel diameter range: minimum 20",
        ),
        ({"wheelWidthMinRear": "10", "wheelWidthMaxRear": "9"}, "rear wheel width range"),
        ({"vehicleType": ["Car"]}, "key 'vehicleType' = \\['Car'\\] is a list, not text"),
        ({"lugSize": 12.5}, "key 'lugSize' = 12.5 is a float, not text"),
        ({"boltpattern": True}, "key 'boltpattern' = True is a boolean, not text"),
        ({"stockTireSizeRear": {"a": 1}}, "key 'stockTireSizeRear'"),
        ({"drchassisid": 12.5}, "not an integral chassis id"),
        ({"drchassisid": True}, "is a boolean"),
        ({"drchassisid": [1]}, "is a list, not a chassis id"),
        ({"boltpattern": "\ud800"}, "not valid Unicode"),
    ],
)
def test_vehicle_rejects(obj: dict[str, Any], reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_vehicle(json.dumps(obj).encode())


def test_vehicle_nan_literal_is_rejected() -> None:
    with pytest.raises(ParseError, match="not a finite number"):
        parse_vehicle(b'{"hub": NaN}')
    with pytest.raises(ParseError, match="not a finite number"):
        parse_vehicle(b'{"stockOffset": -Infinity}')


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1234, "1234"), (1234.0, "1234"), ("A-77", "A-77"), ("", None), (None, None), (0, "0")],
)
def test_vehicle_chassis_forms(value: Any, expected: str | None) -> None:
    assert parse_vehicle(body({"drchassisid": value})).chassis_id == expected


def test_vehicle_text_fields_kept_exactly() -> None:
    spec = parse_vehicle(body({"vehicleType": "Truck ", "lugSize": "M14 x 2.0", "boltpattern": ""}))
    assert spec.vehicle_type == "Truck "
    assert spec.lug_size == "M14 x 2.0"
    assert spec.bolt_pattern_mm is None


@pytest.mark.parametrize("value", [[], "vehicle", 5, None])
def test_vehicle_must_be_an_object(value: Any) -> None:
    with pytest.raises(ParseError, match="vehicle: expected a JSON object"):
        parse_vehicle(body(value))


def test_vehicle_truncated() -> None:
    raw = fixture("vehicle_staggered.json")
    with pytest.raises(TruncatedBodyError):
        parse_vehicle(raw[: len(raw) // 2])


# ------------------------------------------------------------- live shapes (section 5)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"boltpattern": "5x114.3"}, "5x114.3"),
        ({"boltpatternMm": "5x114.3"}, "5x114.3"),
        ({"boltpattern": "", "boltpatternMm": "5x120"}, "5x120"),
        ({"boltpattern": None, "boltpatternMm": "5x120"}, "5x120"),
        ({"boltpattern": "5x120", "boltpatternMm": ""}, "5x120"),
        ({"boltpattern": "5x114.3", "boltpatternMm": "5x114.3"}, "5x114.3"),
        # Same pattern written in another case or with spaces: not a disagreement.
        ({"boltpattern": "5x114.3", "boltpatternMm": " 5X114.3"}, "5x114.3"),
        ({}, None),
    ],
)
def test_bolt_pattern_mm_is_an_alias(obj: dict[str, Any], expected: str | None) -> None:
    spec = parse_vehicle(body(obj))
    assert spec.bolt_pattern_mm == expected
    assert spec.raw == obj


def test_bolt_pattern_and_its_alias_disagreeing_is_an_error() -> None:
    with pytest.raises(
        ParseError, match=r"'boltpattern' = '5x114.3' and key 'boltpatternMm' = '5x120' disagree"
    ):
        parse_vehicle(body({"boltpattern": "5x114.3", "boltpatternMm": "5x120"}))


def test_text_fields_given_as_integers_keep_their_text() -> None:
    spec = parse_vehicle(body({"lugSize": 12, "boltpattern": 5, "lugType": 0}))
    assert (spec.lug_size, spec.bolt_pattern_mm, spec.lug_type) == ("12", "5", "0")
    assert parse_vehicle(body({"boltpatternMm": 6})).bolt_pattern_mm == "6"


FRONT = {"stockWheelDiameter": "18", "stockWheelWidth": "8", "stockOffset": "35"}
REAR = {"stockWheelDiameterRear": "18", "stockWheelWidthRear": "9.5", "stockOffsetRear": "45"}


@pytest.mark.parametrize("yes", [True, 1, "true", "TRUE", "1", "yes", " Yes "])
@pytest.mark.parametrize("key", ["staggered", "factoryStaggered"])
def test_flag_saying_staggered_with_rear_values_uses_them(key: str, yes: Any) -> None:
    spec = parse_vehicle(body({**FRONT, **REAR, key: yes}))
    assert spec.rear == AxleSpec(stock_diameter=18.0, stock_width=9.5, stock_offset=45.0)


@pytest.mark.parametrize("key", ["staggered", "factoryStaggered"])
def test_flag_saying_staggered_without_rear_values_leaves_the_rear_unknown(key: str) -> None:
    spec = parse_vehicle(body({**FRONT, key: "true"}))
    assert spec.front == AxleSpec(stock_diameter=18.0, stock_width=8.0, stock_offset=35.0)
    # Never a copy of the front: that would be silently wrong for a staggered car.
    assert spec.rear == AxleSpec()


@pytest.mark.parametrize("no", [False, 0, "false", "False", "0", "no", "NO", None, ""])
def test_flag_saying_square_without_rear_values_is_square(no: Any) -> None:
    spec = parse_vehicle(body({**FRONT, "staggered": no, "factoryStaggered": no}))
    assert spec.rear is spec.front


def test_rear_values_beat_a_flag_saying_square() -> None:
    spec = parse_vehicle(body({**FRONT, **REAR, "staggered": "0", "factoryStaggered": False}))
    assert spec.rear == AxleSpec(stock_diameter=18.0, stock_width=9.5, stock_offset=45.0)


def test_flag_saying_square_with_rear_values_repeating_the_front_is_square() -> None:
    repeated = {"stockWheelWidthRear": "8", "stockOffsetRear": 35}
    spec = parse_vehicle(body({**FRONT, **repeated, "factoryStaggered": "no"}))
    assert spec.rear is spec.front
    # Without the flag the rear keys alone decide, as before.
    assert parse_vehicle(body({**FRONT, **repeated})).rear == AxleSpec(
        stock_width=8.0, stock_offset=35.0
    )


def test_flags_disagreeing_never_copy_the_front() -> None:
    spec = parse_vehicle(body({**FRONT, "staggered": "yes", "factoryStaggered": "no"}))
    assert spec.rear == AxleSpec()


@pytest.mark.parametrize("value", [2, -1, 1.0, "maybe", "y", "on", [True], {"v": 1}])
@pytest.mark.parametrize("key", ["staggered", "factoryStaggered"])
def test_bad_flag_values_are_errors(key: str, value: Any) -> None:
    with pytest.raises(ParseError, match=f"key '{key}' = .* is not a yes/no flag"):
        parse_vehicle(body({key: value}))


def test_list_valued_and_unknown_keys_are_kept_in_raw() -> None:
    obj = {
        **FRONT,
        "boltpatternMm": "5x112",
        "engine": ["2.0L I4", "3.0L I6"],
        "wheelDiameterMinList": [17, 18],
        "tireWidthMaxList": ["245", "255"],
        "multiChassis": "0",
        "vehicleType2": "Sedan",
        "drmodelid": 4411,
        "bodyType": None,
        "tireWidthMin": "205",
        "tireLoadIndex": "94",
        "tireSpeedIndex": "W",
        "vehicle_type": "car",
    }
    spec = parse_vehicle(body(obj))
    assert spec.raw == obj
    assert spec.bolt_pattern_mm == "5x112"
    assert spec.front.stock_diameter == 18.0


@pytest.mark.parametrize(
    "raw",
    [
        b'{"message":"Forbidden"}',
        b'{ "message" : "Forbidden" }\n',
        b'\xef\xbb\xbf{"message":"Forbidden"}',
        b'{"code":403,"message":"forbidden"}',
        b'{"message":" FORBIDDEN "}',
    ],
)
def test_the_api_refusal_is_recognised(raw: bytes) -> None:
    assert is_forbidden(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b'{"message":"Forbidden"',  # not JSON
        b'["Forbidden"]',
        b'{"message":"Not Forbidden"}',
        b'{"msg":"Forbidden"}',
        b'{"message":["Forbidden"]}',
        b'"Forbidden"',
        b"Forbidden",
        b"\xff\xfeForbidden",
        b'{"vehicleType":"Car","notes":"Forbidden"}',
        b'{"message":"Forbidden","pad":"' + b"x" * 600 + b'"}',  # too long to be the refusal
    ],
)
def test_other_bodies_are_not_the_refusal(raw: bytes) -> None:
    assert not is_forbidden(raw)
