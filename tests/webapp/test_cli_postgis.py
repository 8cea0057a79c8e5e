"""`onemap` on a PostgreSQL server that is not ready for it: one line saying what to do, nothing half-made."""

import pytest
from click.testing import CliRunner

from webapp.cli import main

pytestmark = pytest.mark.backends("postgis")


def _init(tmp_path, url):
    result = CliRunner().invoke(main, ["init"], env={"ONEMAP_INSTANCE": str(tmp_path / "instance"),
                                                     "ONEMAP_DATABASE_URL": url, "ONEMAP_LANG": "en"})
    return result.exit_code, result.output


def test_a_wrong_password_is_one_line_naming_the_setting(tmp_path, postgres):
    url = postgres.url.set(database="postgres", password="not-the-password").render_as_string(
        hide_password=False)
    code, out = _init(tmp_path, url)
    assert code == 1
    assert out.startswith("onemap: cannot use the database (ONEMAP_DATABASE_URL): ")
    assert "password authentication failed" in out and "Traceback" not in out


def test_a_database_without_postgis_that_the_user_may_not_enable_says_how(tmp_path, postgres, backend):
    name = f"plain_{tmp_path.name[-20:]}".replace("-", "_").lower()
    postgres._run("DROP ROLE IF EXISTS onemap_plain")
    postgres._run("CREATE ROLE onemap_plain LOGIN PASSWORD 'plain'")
    postgres._run(f'CREATE DATABASE "{name}" OWNER onemap_plain TEMPLATE template0')
    try:
        url = postgres.url.set(database=name, username="onemap_plain", password="plain").render_as_string(
            hide_password=False)
        code, out = _init(tmp_path, url)
        assert code == 1 and "CREATE EXTENSION postgis" in out and "Traceback" not in out
        import sqlalchemy as sa

        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as connection:  # the migration rolled back whole: no table left behind
            assert not sa.inspect(connection).get_table_names()
        engine.dispose()
    finally:
        postgres.drop(name)
        postgres._run("DROP ROLE IF EXISTS onemap_plain")
