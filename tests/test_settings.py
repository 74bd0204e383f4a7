"""One settings object: read from the environment once, validated, passed down; README in step."""

from __future__ import annotations

import ast
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from web import create_app
from workflow.cli import main
from workflow.engine import Engine
from workflow.settings import Settings, SettingsError, env_name, load_settings, markdown_table
from workflow.store.db import Database

#: the one module that may read the environment
READER = ROOT / "workflow" / "settings.py"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment without any BANLI_ setting (the developer's shell may have some)."""
    for name in [n for n in os.environ if n.startswith("BANLI_")]:
        monkeypatch.delenv(name)
    return monkeypatch


# --- nobody else reads the environment ----------------------------------------------------------


def _environment_reads(path: Path, root: Path = ROOT) -> list[str]:
    """Where a module reads the environment: os.environ / os.getenv / environ.get, an import
    of environ or getenv, or click's envvar= (click reading the environment for us)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
            found.append(f"{where}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [f"{where}: from os import {a.name}" for a in node.names
                      if a.name in ("environ", "getenv", "environb")]  # fmt: skip
        elif isinstance(node, ast.Name) and node.id in ("environ", "getenv"):
            found.append(f"{where}: {node.id}")
        elif isinstance(node, ast.keyword) and node.arg in ("envvar", "auto_envvar_prefix"):
            found.append(f"{where}: {node.arg}=")
    return found


def test_no_module_but_settings_reads_the_environment() -> None:
    modules = sorted((ROOT / "workflow").rglob("*.py")) + sorted((ROOT / "web").rglob("*.py"))
    assert len(modules) > 50
    reads = [hit for path in modules if path != READER for hit in _environment_reads(path)]
    assert reads == []


def test_the_check_finds_each_way_of_reading(tmp_path: Path) -> None:
    module = tmp_path / "sneaky.py"
    module.write_text(
        "import os\nfrom os import getenv\nimport click\n"
        "a = os.environ.get('BANLI_X')\nb = getenv('BANLI_Y')\nc = os.getenv('Z')\n"
        "opt = click.option('--db', envvar='BANLI_DATABASE_URL')\n",
        encoding="utf-8",
    )
    hits = sorted(_environment_reads(module, tmp_path))
    assert hits == [
        "sneaky.py:2: from os import getenv", "sneaky.py:4: .environ", "sneaky.py:5: getenv",
        "sneaky.py:6: .getenv", "sneaky.py:7: envvar=",
    ]  # fmt: skip


# --- README's table is the Settings class -----------------------------------------------------


def _readme_rows() -> dict[str, tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.fullmatch(r"\| `(BANLI_\w+)` \| (.+?) \| (.+) \|", line)
        if m:
            rows[m[1]] = (m[2], m[3])
    return rows


def test_readme_lists_every_setting_with_its_default_and_nothing_else() -> None:
    rows = _readme_rows()
    assert list(rows) == [env_name(f) for f in Settings.model_fields]
    for field, info in Settings.model_fields.items():
        default, meaning = rows[env_name(field)]
        if info.default is None or info.default == "":
            assert default == "unset", field
        elif isinstance(info.default, bool):
            assert default == ("`1`" if info.default else "`0`"), field
        elif isinstance(info.default, float):
            assert float(default.strip("`")) == info.default, field
        else:
            assert default == f"`{info.default}`", field
        assert meaning == info.description, field
    # the table is exactly what `banli settings --markdown` prints
    assert markdown_table() in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_has_a_type_default_and_description() -> None:
    for field, info in Settings.model_fields.items():
        assert info.description and len(info.description.splitlines()) == 1, field
        assert info.annotation is not None, field
        assert not info.is_required(), field


# --- read once, validated ---------------------------------------------------------------------


def test_the_environment_sets_and_an_empty_value_unsets(clean_env) -> None:
    assert load_settings() == Settings.defaults()
    clean_env.setenv("BANLI_DING_LIMIT", "5")
    clean_env.setenv("BANLI_TIMEZONE", "")  # as a unit file's "BANLI_TIMEZONE=" leaves it
    clean_env.setenv("BANLI_COOKIE_SECURE", "off")
    clean_env.setenv("BANLI_AUDIT_EMAIL", "audit@example.com, , cfo@example.com")
    settings = load_settings()
    assert (settings.ding_limit, settings.timezone, settings.cookie_secure) == (
        5, "Asia/Shanghai", False,
    )  # fmt: skip
    assert settings.audit_emails == ("audit@example.com", "cfo@example.com")
    assert Settings.defaults().ding_limit == 60  # the defaults ignore the environment
    assert load_settings(database_url="sqlite://").database_url == "sqlite://"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BANLI_JOB_LEASE", "soon", "BANLI_JOB_LEASE must be a number of seconds, not 'soon'"),
        ("BANLI_WEB_LOCK_TIMEOUT", "-1",
         "BANLI_WEB_LOCK_TIMEOUT must be a number of seconds ≥ 0, not '-1'"),
        ("BANLI_LOCK_TIMEOUT", "nan", "BANLI_LOCK_TIMEOUT must be a number of seconds ≥ 0"),
        ("BANLI_DING_LIMIT", "sixty", "BANLI_DING_LIMIT must be a whole number, not 'sixty'"),
        ("BANLI_JOB_BATCH", "0", "BANLI_JOB_BATCH must be a whole number ≥ 1, not '0'"),
        ("BANLI_SMTP_PORT", "70000", "BANLI_SMTP_PORT must be a whole number ≤ 65535"),
        ("BANLI_TIMEZONE", "Mars/Olympus",
         "BANLI_TIMEZONE must be a time zone such as Asia/Shanghai, not 'Mars/Olympus'"),
        ("BANLI_COOKIE_SECURE", "maybe",
         "BANLI_COOKIE_SECURE must be 1/true/yes/on or 0/false/no/off, not 'maybe'"),
    ],
)  # fmt: skip
def test_a_bad_value_names_its_variable(clean_env, name: str, value: str, message: str) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert message in str(caught.value)


def test_every_bad_value_is_named_at_once(clean_env) -> None:
    clean_env.setenv("BANLI_IDLE_MINUTES", "0")
    clean_env.setenv("BANLI_PROXIES", "two")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        "BANLI_IDLE_MINUTES must be a whole number ≥ 1, not '0'; "
        "BANLI_PROXIES must be a whole number, not 'two'"
    )


def test_banli_refuses_to_start_on_a_bad_setting(clean_env, tmp_path: Path) -> None:
    clean_env.setenv("BANLI_TIMEZONE", "Shanghai")
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "init"])
    assert result.exit_code == 1
    assert "bad setting: BANLI_TIMEZONE must be a time zone such as Asia/Shanghai" in result.output
    assert not (tmp_path / "x.db").exists()  # nothing was started


def test_the_app_refuses_to_start_on_a_bad_setting(clean_env) -> None:
    clean_env.setenv("BANLI_MAX_UPLOAD", "1GB")
    with pytest.raises(SettingsError, match="BANLI_MAX_UPLOAD must be a whole number, not '1GB'"):
        create_app()


# --- passed down ------------------------------------------------------------------------------


def test_banli_settings_shows_what_is_in_effect_secrets_masked(clean_env) -> None:
    clean_env.setenv("BANLI_DATABASE_URL", "postgresql+psycopg://banli:hunter2@db/other")
    clean_env.setenv("BANLI_SMTP_PASSWORD", "s3cret")
    clean_env.setenv("BANLI_DING_LIMIT", "80")
    url = "postgresql+psycopg://banli:hunter2@db/banli"
    result = CliRunner().invoke(main, ["--db", url, "settings"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()}
    assert list(lines) == [env_name(f) for f in Settings.model_fields]
    assert lines["BANLI_DATABASE_URL"] == ["postgresql+psycopg://banli:***@db/banli"]  # --db wins
    assert lines["BANLI_SMTP_PASSWORD"] == ["********"]
    assert lines["BANLI_DING_LIMIT"] == ["80"]
    assert lines["BANLI_TIMEZONE"] == ["Asia/Shanghai", "(default)"]
    assert lines["BANLI_SECRET_KEY"] == ["(unset)", "(default)"]
    assert "hunter2" not in result.output and "s3cret" not in result.output
    # --db is passed on, never written into the environment
    assert os.environ["BANLI_DATABASE_URL"].endswith("/other")
    markdown = CliRunner().invoke(main, ["settings", "--markdown"])
    assert markdown.output == markdown_table()


def test_the_engine_takes_its_time_zone_from_the_settings() -> None:
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    db = Database("sqlite://")
    assert Engine(db).local(at) == "2026-03-02 09:00"  # the default: Asia/Shanghai
    berlin = Engine(db, settings=Settings.defaults(timezone="Europe/Berlin"))
    assert berlin.local(at) == "2026-03-02 02:00"
    db.dispose()


def test_the_app_is_configured_from_the_settings(tmp_path: Path) -> None:
    settings = Settings.defaults(
        database_url=f"sqlite:///{tmp_path / 'web.db'}", secret_key="k" * 32, idle_minutes=15,
        max_upload=2048, upload_quota=4096, files_dir=tmp_path / "files", proxies=1,
        base_url="https://oa.example.com", timezone="Asia/Urumqi", web_lock_timeout=2,
        ding_limit=7,
    )  # fmt: skip
    app = create_app(settings, {"TESTING": True})
    c = app.config
    assert (c["SECRET_KEY"], c["IDLE_TIMEOUT"].total_seconds()) == ("k" * 32, 900)
    assert (c["MAX_CONTENT_LENGTH"], c["UPLOAD_QUOTA"]) == (2048, 4096)
    assert c["FILES_DIR"] == str(tmp_path / "files")
    assert (c["BASE_URL"], c["BABEL_DEFAULT_TIMEZONE"], c["PROXIES"]) == (
        "https://oa.example.com", "Asia/Urumqi", 1,
    )  # fmt: skip
    engine = app.extensions["banli"]
    assert engine.settings is settings and str(engine.tz) == "Asia/Urumqi"
    assert engine.db.lock_timeout == 2 and str(engine.db.url).endswith("web.db")
    engine.db.dispose()
