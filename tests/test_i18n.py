import shutil
import subprocess

import polib
import pytest

from tests.helpers import ROOT

CATALOG = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"


def test_the_chinese_catalog_is_complete():
    po = polib.pofile(str(CATALOG / "django.po"))
    assert len(po) > 100
    assert [e.msgid for e in po.untranslated_entries()] == []
    assert [e.msgid for e in po.fuzzy_entries()] == []
    for entry in po.translated_entries():
        # Placeholders survive translation (in every plural form).
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for translation in translations:
            for placeholder in ("%(", "{{", "%s"):
                assert entry.msgid.count(placeholder) == translation.count(placeholder), entry.msgid


def test_the_compiled_catalog_matches_the_source():
    po = polib.pofile(str(CATALOG / "django.po"))
    mo = polib.mofile(str(CATALOG / "django.mo"))

    def text(entry):
        return dict(entry.msgstr_plural) if entry.msgid_plural else entry.msgstr

    assert {e.msgid: text(e) for e in po.translated_entries()} == {
        e.msgid: text(e) for e in mo if e.msgid
    }


@pytest.mark.skipif(
    shutil.which("xgettext") is None, reason="GNU gettext is not installed (CI installs it)"
)
def test_every_translatable_string_in_the_code_is_in_the_catalog(tmp_path):
    """makemessages into a copy of the catalog must add nothing new."""
    copy = tmp_path / "locale"
    shutil.copytree(ROOT / "locale", copy)
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "manage.py",
            "makemessages",
            "-l",
            "zh_Hans",
            "--ignore",
            ".venv",
            "--ignore",
            ".tools",
            "--ignore",
            "var",
            "--ignore",
            "tests",
            "--ignore",
            "bench",
            "--no-obsolete",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": "postgresql://unused@127.0.0.1/unused",
        },
    )
    try:
        po = polib.pofile(str(CATALOG / "django.po"))
        missing = [e.msgid for e in po.untranslated_entries() + po.fuzzy_entries()]
    finally:
        shutil.copy(copy / "zh_Hans" / "LC_MESSAGES" / "django.po", CATALOG / "django.po")
    assert missing == [], "run `make messages` and translate these"


@pytest.mark.django_db
def test_pages_follow_the_browsers_language(client):
    english = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    chinese = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert 'lang="en"' in english and "Sign In" in english
    assert 'lang="zh-hans"' in chinese and "登录" in chinese


@pytest.mark.django_db
def test_the_language_switch_overrides_the_browser(client):
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/accounts/login/"})
    assert response.status_code == 302
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="zh-hans"' in page


@pytest.mark.django_db
def test_times_are_shown_in_the_users_time_zone(client, agent):
    agent.timezone = "Asia/Shanghai"
    agent.save()
    client.force_login(agent)
    # The console formats times in the browser, in the zone the page hands it.
    page = client.get("/console/").content.decode()
    assert '"timezone": "Asia/Shanghai"' in page
    assert "Asia/Shanghai" in client.get("/api/v1/me/").json()["timezone"]
