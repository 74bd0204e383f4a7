"""The directory's pages (Art. 5, 21): staff only, search, cards, and a hidden mobile that is
absent from the page source and the JSON of anyone outside the chosen units."""

from __future__ import annotations

import pytest

from tests.web.conftest import csrf_of

LEADER_MOBILE = "13801710001"  # 张建国, 公司领导


@pytest.mark.parametrize("url", ["/directory", "/directory/1", "/directory/search.json?q=wf",
                                 "/admin/people/1/mobile-privacy"])  # fmt: skip
def test_anonymous_goes_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_the_directory_shows_the_tree_and_ones_own_unit(client, auth):
    auth.login("wangfang")
    page = client.get("/directory").text
    assert 'id="unit-tree"' in page
    assert "办公室" in page and "财务部" in page
    assert "李明" in page and "13901720001" in page  # a colleague of the office, with the number
    assert "钱学军" not in page  # 财务部 is another unit


def test_search_by_initials_pinyin_and_name_without_javascript(client, auth):
    auth.login("liming")
    for q in ("wf", "wangf", "王芳", "王"):
        page = client.get("/directory", query_string={"q": q}).text
        assert 'id="person-' in page and "王芳" in page, q
        assert "13901720002" in page
    assert "王芳" not in client.get("/directory", query_string={"q": "zz"}).text.split("<main>")[1]


def test_a_unit_of_the_tree(client, auth, engine):
    auth.login("liming")
    page = client.get("/directory", query_string={"unit": _unit(engine, "finance")}).text
    assert "钱学军" in page and "林晓燕" in page and "王芳" not in page.split("<main>")[1]
    assert client.get("/directory", query_string={"unit": "999999"}).status_code == 404


def _unit(engine, code):
    from workflow.org.directory import unit_tree

    return next(n.id for n in unit_tree(engine.db) if n.code == code)


def _hide_leader(client, auth, engine, people):
    """zhouwei (main administrator) hides 张建国's mobile from all but 办公室."""
    auth.login("zhouwei")
    url = f"/admin/people/{people['zhangjianguo']}/mobile-privacy"
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(url, data={"hidden": "1", "viewers": [str(_unit(engine, "office"))],
                                      "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert response.status_code == 302
    assert "隐藏" in client.get(url).text or "hidden" in client.get(url).text
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)})


def test_a_hidden_mobile_is_absent_for_an_outsider_and_present_for_an_insider(
    client, auth, engine, people
):
    _hide_leader(client, auth, engine, people)
    leader = people["zhangjianguo"]
    auth.login("huangyong")  # 财务部: outside
    for url in (f"/directory/{leader}", f"/directory?unit={_unit(engine, 'leaders')}",
                "/directory?q=zjg"):  # fmt: skip
        body = client.get(url).text
        assert "张建国" in body and "号码已隐藏" in body, url
        assert LEADER_MOBILE not in body, url
    raw = client.get("/directory/search.json?q=zhangjianguo")
    assert LEADER_MOBILE not in raw.text
    found = raw.get_json()["people"]
    assert found[0]["name"] == "张建国"
    assert found[0]["mobile"] is None and found[0]["mobile_hidden"] is True
    # and nobody finds him by the number itself; the other leaders are still found by theirs
    by_number = client.get("/directory/search.json?q=1380171000").get_json()["people"]
    assert [p["name"] for p in by_number] == ["陈志强", "刘海涛"]
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)})
    auth.login("wangfang")  # 办公室: inside
    assert LEADER_MOBILE in client.get(f"/directory/{leader}").text
    found = client.get("/directory/search.json?q=zjg").get_json()["people"]
    assert found[0]["mobile"] == LEADER_MOBILE


def test_the_privacy_page_is_404_out_of_scope(client, auth, people):
    auth.login("linxiaoyan")  # people over 财务部 only
    assert client.get(f"/admin/people/{people['zhangjianguo']}/mobile-privacy").status_code == 404
    assert client.get(f"/admin/people/{people['huangyong']}/mobile-privacy").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)})
    auth.login("wangfang")  # no capability at all
    assert client.get(f"/admin/people/{people['huangyong']}/mobile-privacy").status_code == 404


def test_a_bad_unit_is_refused_by_the_field_and_keeps_the_switch(client, auth, people):
    auth.login("zhouwei")
    url = f"/admin/people/{people['zhangjianguo']}/mobile-privacy"
    token = csrf_of(client.get(url).text)
    response = client.post(url, data={"hidden": "1", "viewers": ["999999"], "csrf_token": token})
    assert response.status_code == 400
    assert 'id="viewers-error"' in response.text and "999999" in response.text
    assert 'id="privacy-hidden" checked' in response.text


def test_over_the_rate_limit_is_429_with_the_time_to_try_again(app, client, auth):
    from workflow.settings import Settings

    engine = app.extensions["banli"]
    engine.settings = Settings.defaults(directory_rate=3)
    auth.login("wangfang")
    for _ in range(3):
        assert client.get("/directory/search.json?q=wf").status_code == 200
    refused = client.get("/directory")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "通讯录" in refused.text and "再试" in refused.text
    assert client.get("/directory/search.json?q=wf").status_code == 429


def test_the_card_links_the_privacy_page_for_its_administrators_only(client, auth, people):
    leader = people["zhangjianguo"]
    auth.login("fenglei")  # people over the whole company
    assert 'id="privacy-link"' in client.get(f"/directory/{leader}").text
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)})
    auth.login("linxiaoyan")  # 财务部 only
    assert 'id="privacy-link"' not in client.get(f"/directory/{leader}").text
    assert 'id="privacy-link"' in client.get(f"/directory/{people['huangyong']}").text


def test_the_privacy_page_says_what_changed_in_english_too(client, auth, engine, people):
    auth.login("zhouwei")
    client.post("/lang", data={"lang": "en", "csrf_token": csrf_of(client.get("/").text)})
    url = f"/admin/people/{people['zhangjianguo']}/mobile-privacy"
    page = client.get(url).text
    assert "Number privacy" in page and "Units that still see it" in page
    done = client.post(url, data={"hidden": "1", "viewers": [str(_unit(engine, "office"))],
                                  "csrf_token": csrf_of(page)}, follow_redirects=True)  # fmt: skip
    assert "张建国&#39;s mobile is now hidden from everyone outside the chosen units." in done.text
    again = client.post(url, data={"hidden": "1", "viewers": [str(_unit(engine, "office"))],
                                   "csrf_token": csrf_of(page)}, follow_redirects=True)  # fmt: skip
    assert "Nothing changed." in again.text
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)})
    auth.login("huangyong")
    client.post("/lang", data={"lang": "en", "csrf_token": csrf_of(client.get("/").text)})
    card = client.get(f"/directory/{people['zhangjianguo']}").text
    assert "Number hidden" in card and LEADER_MOBILE not in card


def test_administrators_export_their_scope_as_csv_and_staff_cannot(client, auth):
    auth.login("wangfang")
    assert 'id="dir-export"' not in client.get("/directory").text
    assert client.get("/admin/people/directory.csv").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)})
    auth.login("linxiaoyan")
    assert 'id="dir-export"' in client.get("/directory").text
    response = client.get("/admin/people/directory.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.data.decode("utf-8-sig")
    assert text.splitlines()[0] == "姓名,登录名,部门,职务,手机号,邮件"
    assert "林晓燕" in text and "13601740002" in text and "王芳" not in text
