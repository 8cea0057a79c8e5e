"""Site attributes checked against a layer's schema: a case table per rule."""

import pytest

from geo.attributes import check_attributes
from geo.credentials import hash_password, new_token, token_digest, verify_password


def clean_attributes(layer, given):
    """The attributes and the English of each problem."""
    clean, problems = check_attributes(layer, given)
    return clean, [str(p) for p in problems]


@pytest.fixture
def zones(layers):
    return layers["sanitation_zones"]


@pytest.mark.parametrize(
    "given, expected",
    [
        ({"township": "黑山街道", "key_village": True}, {"township": "黑山街道", "key_village": True}),
        ({"township": "x", "key_village": "是", "households": "320"},
         {"township": "x", "key_village": True, "households": 320}),
        ({"township": "x", "key_village": 0, "beautiful_village": "false"},
         {"township": "x", "key_village": False, "beautiful_village": False}),
        ({"township": "x", "key_village": True, "households": 250.0, "extra_column": "ignored"},
         {"township": "x", "key_village": True, "households": 250}),
    ],
)
def test_good_attributes_are_coerced(zones, given, expected):
    assert clean_attributes(zones, given) == (expected, [])


@pytest.mark.parametrize(
    "given, problem",
    [
        ({"key_village": True}, "township: required attribute is missing"),
        ({"township": "x", "key_village": "maybe"}, "key_village: 'maybe' is not true or false"),
        ({"township": "x", "key_village": True, "households": -1}, "households: -1 is below the minimum 0"),
        ({"township": "x", "key_village": True, "households": 12.5}, "12.5 is not a whole number"),
        ({"township": "x", "key_village": True, "households": "many"}, "households: 'many' is not a number"),
        ({"township": "x", "key_village": True, "households": float("inf")}, "is not a finite number"),
    ],
)
def test_bad_attributes_name_the_attribute(zones, given, problem):
    _, problems = clean_attributes(zones, given)
    assert any(problem in p for p in problems), problems


def test_dates_lists_and_allowed_values(layers):
    roads, mines = layers["road_works"], layers["mines"]
    given = {"start_date": "2022-08-26T00:00:00", "components": "绿化；路灯照明"}
    clean, problems = clean_attributes(roads, given)
    assert problems == [] and clean == {"start_date": "2022-08-26", "components": ["绿化", "路灯照明"]}
    assert clean_attributes(roads, {"start_date": "26/08/2022"})[1] == [
        "start_date: '26/08/2022' is not a date (YYYY-MM-DD)"]
    assert clean_attributes(mines, {"commodity": "gold"})[1] == [
        "commodity: 'gold' is not one of bentonite, stone, coal, other"]


def test_passwords_and_tokens():
    stored = hash_password("correct horse 9")
    assert stored.startswith("$argon2") and "correct horse" not in stored
    assert verify_password(stored, "correct horse 9")
    assert not verify_password(stored, "correct horse 8")
    assert not verify_password(None, "anything")  # unknown user: same work, still False
    assert not verify_password("not a hash", "x")
    token = new_token()
    assert token != new_token() and len(token) > 40
    assert token_digest(token) == token_digest(token) and token not in token_digest(token)
