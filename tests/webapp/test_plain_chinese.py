"""No raw codes on pages: an attribute's allowed value by its label, the dataset's English sentences in
Chinese, whole numbers whole; and on English pages a feature's English name where it has one."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import ALL_PASS, add_report
from webapp.context import get_uow

pytestmark = pytest.mark.backends("sqlite")  # labels on pages, not storage

PORT = "port_multimodal"


def _site(app, ref: str):
    with app.app_context(), get_uow() as uow:
        return next(s for s in uow.sites.find(layer_id=PORT) if s.ref == ref)


def _attributes(page: str) -> str:
    """The site page's attribute table, where every value a person reads is."""
    return re.search(r'<table class="attrs">(.*?)</table>', page, re.S).group(1)


@pytest.fixture
def port(app):
    return _site(app, "inland-fuxin")


def test_the_type_of_a_port_site_is_its_label(client, auth, port):
    assert port.attributes["kind"] == "inland_port"
    auth.login_as("planner")
    table = _attributes(client.get(f"/sites/{port.id}").get_data(as_text=True))
    assert re.search(r"<th>类型</th>\s*<td>\s*内陆港", table) and "inland_port" not in table
    english = _attributes(client.get(f"/sites/{port.id}?lang=en").get_data(as_text=True))
    assert re.search(r"<th>Kind</th>\s*<td>\s*Inland port", english)


def test_an_approximate_position_says_why_in_chinese(client, auth, port):
    reason = port.attributes["approx_reason"]
    assert reason == "only the host city is known: Fuxin city point"  # the dataset writes it in English
    auth.login_as("planner")
    table = _attributes(client.get(f"/sites/{port.id}").get_data(as_text=True))
    assert reason not in table and "仅知所在城市：阜新市区点位" in table
    english = _attributes(client.get(f"/sites/{port.id}?lang=en").get_data(as_text=True))
    assert reason in english


@pytest.mark.backends("sqlite", "postgis")  # numbers from a JSON column
def test_a_whole_metric_is_shown_whole(app, client, auth):
    with app.app_context(), get_uow(write=True) as uow:
        zone = next(uow.sites.find(layer_id="sanitation_zones"))
        add_report(uow, zone.id, "worker", checklist=ALL_PASS, metrics={"person_times": 3.0,
                                                                         "garbage_tonnes": 1.5},
                   observed_at=datetime.now(UTC) - timedelta(hours=1))
        uow.commit()
    auth.login_as("planner")
    page = client.get(f"/sites/{zone.id}").get_data(as_text=True)
    assert "出动人工: <b>3</b> 人次" in page and "3.0" not in page
    assert "清运垃圾: <b>1.5</b> t" in page


def test_an_english_page_uses_the_english_name(client, auth, port):
    auth.login_as("planner")
    chinese = client.get(f"/sites/{port.id}").get_data(as_text=True)
    assert f"<h1>{port.name}</h1>" in chinese
    english = client.get(f"/sites/{port.id}?lang=en").get_data(as_text=True)
    name_en = port.attributes["name_en"]
    assert f"<h1>{name_en}</h1>" in english and f"<title>{name_en} ·" in english


def test_the_ogc_item_page_in_english_uses_the_english_name(client, auth, port):
    auth.login_as("planner")
    page = client.get(f"/ogc/collections/{PORT}/items/{port.id}?f=html&lang=en").get_data(as_text=True)
    assert f"<h1>{port.attributes['name_en']} <small>" in page
    chinese = client.get(f"/ogc/collections/{PORT}/items/{port.id}?f=html&lang=zh_CN").get_data(as_text=True)
    assert f"<h1>{port.name} <small>" in chinese
