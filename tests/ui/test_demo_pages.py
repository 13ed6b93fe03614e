"""The web UI of a server started with ``llmobs serve --demo --ui-loopback-open false``, in a
real Chromium: sign in and out, click from ``/`` to a prompt, its diff and render preview,
move and remove a label, deploy a version to an environment, and from a dataset to its
version diff and downloads. Every number asserted follows from what ``--demo`` writes
(``crates/server/src/demo.rs``)."""

from __future__ import annotations

import time

import pytest

from conftest import Watched
from harness import Server


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("ui-demo"),
                 extra_args=["--demo", "--ui-loopback-open", "false"]).start()
    yield srv
    srv.stop()


@pytest.fixture
def demo_page(browser, demo_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    watched = Watched(context.new_page(), demo_server.root)
    yield watched
    context.close()


def sign_in(page: Watched, server: Server, with_app_key: bool = True) -> None:
    p = page.page
    p.goto(server.root + "/sign-in")
    p.fill("input[name=api_key]", server.api_key)
    if with_app_key:
        p.fill("input[name=app_key]", server.app_key)
    p.get_by_role("button", name="Sign in").click()
    p.wait_for_url(server.root + "/")


def test_the_server_says_demo_and_asks_to_sign_in(demo_server):
    # The server prints these after its "listening on" line, which is all start() waits for.
    wanted = ["sign in with an API key", "demo project 'demo' written"]
    deadline = time.monotonic() + 30
    lines = ""
    while time.monotonic() < deadline:
        lines = "\n".join(demo_server.stdout_lines)
        if all(w in lines for w in wanted):
            break
        time.sleep(0.05)
    for w in wanted:
        assert w in lines, lines


def test_sign_in_and_out(demo_page, demo_server):
    p = demo_page.page
    # Not signed in, not open on loopback: 401 with a link to the sign-in page.
    response = p.goto(demo_server.root + "/")
    assert response.status == 401
    p.get_by_role("link", name="Sign in").first.click()
    p.wait_for_url("**/sign-in")
    demo_page.problems.clear()  # the 401 above was the point
    # A wrong key: the form again, with what is wrong.
    p.fill("input[name=api_key]", "not-a-key")
    p.get_by_role("button", name="Sign in").click()
    assert "API key is not valid" in p.inner_text("[role=alert]")
    demo_page.shot("20-sign-in-refused")
    demo_page.problems.clear()  # the 403 above was the point
    sign_in(demo_page, demo_server)
    header = p.inner_text("header")
    assert "org: default" in header and "Sign out" in header, header
    assert demo_server.api_key not in p.url
    cookies = p.context.cookies()
    session = [c for c in cookies if c["name"] == "llmobs_session"]
    assert session and session[0]["httpOnly"] and session[0]["sameSite"] == "Strict", cookies
    assert p.locator("tr", has_text="demo").count() >= 1
    demo_page.shot("21-projects-signed-in")
    p.get_by_role("button", name="Sign out").click()
    p.wait_for_url("**/sign-in")
    assert not [c for c in p.context.cookies() if c["name"] == "llmobs_session"]
    assert "Sign out" not in p.inner_text("header")
    demo_page.assert_clean()


def test_from_projects_to_a_prompt_its_diff_and_preview(demo_page, demo_server):
    p = demo_page.page
    sign_in(demo_page, demo_server)
    p.locator("header nav").get_by_role("link", name="Prompts", exact=True).click()
    p.wait_for_url("**/llm/prompts")
    p.get_by_role("link", name="capital-qa").click()
    p.wait_for_url("**/llm/prompts/capital-qa")
    assert p.locator("tr.version").count() == 3
    resolves = p.locator("table.resolves")
    assert resolves.locator("tr", has_text="label production").locator("td").nth(1).inner_text() == "v2"
    assert resolves.locator("tr", has_text="label development").locator("td").nth(1).inner_text() == "v3"
    assert resolves.locator("tr", has_text="environment staging").locator("td").nth(1).inner_text() == "v3"
    demo_page.shot("22-prompt")

    # The preview, through the SDK's renderer.
    p.fill("input[name='var.country']", "France")
    p.get_by_role("button", name="Render").click()
    p.wait_for_url("**var.country=France*")
    rendered = p.inner_text("pre.rendered")
    assert rendered.endswith("What is the capital of France?"), rendered
    demo_page.shot("23-prompt-preview")

    # The diff of v2 and v3: one line added, none removed.
    form = p.locator("form", has=p.get_by_role("button", name="Show diff"))
    form.locator("select[name=from]").select_option("2")
    form.locator("select[name=to]").select_option("3")
    form.get_by_role("button", name="Show diff").click()
    p.wait_for_url("**/llm/prompts/capital-qa/diff?from=2&to=3")
    assert p.inner_text(".added-count") == "1 added"
    assert p.inner_text(".removed-count") == "0 removed"
    added = p.locator("table.diff tr.added")
    assert added.count() == 1
    assert "seat of government" in added.inner_text()
    assert p.locator("table.diff tr.same").count() == 2
    demo_page.shot("24-prompt-diff")
    demo_page.assert_clean()


def test_moving_a_label_from_the_ui(demo_page, demo_server):
    p = demo_page.page
    sign_in(demo_page, demo_server)
    p.goto(demo_server.root + "/llm/prompts/support-chat")
    assert p.locator("tr.version").count() == 2
    form = p.locator("form", has=p.get_by_role("button", name="Move label", exact=True))
    form.locator("input[name=label]").fill("production")
    form.locator("select[name=version]").select_option("2")
    form.get_by_role("button", name="Move label", exact=True).click()
    p.wait_for_url("**moved=production")
    assert "Label production moved." in p.inner_text(".notice")
    row = p.locator("table.resolves tr", has_text="label production")
    assert row.locator("td").nth(1).inner_text() == "v2"
    assert p.locator("tr.version[data-version='2'] .label", has_text="production").count() == 1
    assert p.locator("tr.version[data-version='1'] .label").count() == 0
    demo_page.shot("25-label-moved")
    # The API serves the moved label at once.
    answer = demo_server.request("GET", "/api/unstable/llm-obs/v1/prompts/support-chat?label=production")
    assert answer.status == 200 and answer.json()["version"] == "2", answer.body
    demo_page.assert_clean()


def test_removing_a_label_and_deploying_a_version_from_the_ui(demo_page, demo_server):
    p = demo_page.page
    api = "/api/unstable/llm-obs/v1/prompts/capital-qa"
    # Signed in without the application key: no write forms, the sign-in hint instead.
    sign_in(demo_page, demo_server, with_app_key=False)
    p.goto(demo_server.root + "/llm/prompts/capital-qa")
    assert p.get_by_role("button", name="Remove label development").count() == 0
    assert p.get_by_role("button", name="Deploy").count() == 0
    assert "this session has no application key" in p.inner_text(".forms")
    p.get_by_role("button", name="Sign out").click()
    p.wait_for_url("**/sign-in")

    sign_in(demo_page, demo_server)
    p.goto(demo_server.root + "/llm/prompts/capital-qa")
    resolves = p.locator("table.resolves")
    # Remove the label development (on v3, which --demo also deploys to staging).
    p.get_by_role("button", name="Remove label development").click()
    p.wait_for_url("**/llm/prompts/capital-qa?removed=development")
    assert "Label development removed." in p.inner_text(".notice")
    assert resolves.locator("tr", has_text="label development").count() == 0
    assert p.locator("tr.version[data-version='3'] .label").count() == 0
    assert resolves.locator("tr", has_text="label production").locator("td").nth(1).inner_text() == "v2"
    demo_page.shot("25b-label-removed")
    answer = demo_server.request("GET", api + "?label=development")
    assert answer.status == 404, answer.body

    # Deploy v2 to staging (moved off v3), then v1 to a new environment, canary.
    form = p.locator("form", has=p.get_by_role("button", name="Deploy"))
    form.locator("select[name=version]").select_option("2")
    form.locator("input[name=environment]").fill("staging")
    form.get_by_role("button", name="Deploy").click()
    p.wait_for_url("**/llm/prompts/capital-qa?version=2&deployed=staging")
    assert "Environment staging now serves v2." in p.inner_text(".notice")
    assert resolves.locator("tr", has_text="environment staging").locator("td").nth(1).inner_text() == "v2"
    assert p.locator("tr.version[data-version='2'] .env", has_text="staging").count() == 1
    assert p.locator("tr.version[data-version='3'] .env").count() == 0
    form.locator("select[name=version]").select_option("1")
    form.locator("input[name=environment]").fill("canary")
    form.get_by_role("button", name="Deploy").click()
    p.wait_for_url("**/llm/prompts/capital-qa?version=1&deployed=canary")
    assert resolves.locator("tr", has_text="environment canary").locator("td").nth(1).inner_text() == "v1"
    assert resolves.locator("tr", has_text="environment staging").locator("td").nth(1).inner_text() == "v2"
    demo_page.shot("25c-version-deployed")
    # The API resolves both environments as the page says.
    for env, version in [("staging", "2"), ("canary", "1"), ("elsewhere", "3")]:
        body = {"data": {"type": "prompt_resolve_requests", "attributes": {"env": env}}}
        answer = demo_server.request("POST", api + "/resolve", json_body=body)
        assert answer.status == 200 and answer.json()["version"] == version, (env, answer.body)
    demo_page.assert_clean()


def test_from_a_dataset_to_its_version_diff_and_downloads(demo_page, demo_server):
    p = demo_page.page
    sign_in(demo_page, demo_server)
    p.locator("header nav").get_by_role("link", name="Datasets", exact=True).click()
    p.wait_for_url("**/llm/datasets")
    p.get_by_role("link", name="capitals").click()
    p.wait_for_url("**/llm/datasets/*")
    rows = p.locator("table.records tr.record")
    assert rows.count() == 6
    assert "Tokyo" in rows.filter(has_text="japan").inner_text()
    demo_page.shot("26-dataset")

    form = p.locator("form", has=p.get_by_role("button", name="Show records"))
    form.locator("select[name=version]").select_option("1")
    form.get_by_role("button", name="Show records").click()
    p.wait_for_url("**version=1*")
    assert [r.split("\t")[0] for r in rows.all_inner_texts()] == ["france", "spain", "italy", "germany", "japan"]
    assert "Tokio" in rows.filter(has_text="japan").inner_text()

    # Search within a version.
    form.locator("input[name=search]").fill("EUROPE")
    form.get_by_role("button", name="Show records").click()
    p.wait_for_url("**search=EUROPE*")
    assert rows.count() == 4

    # The CSV download of version 1.
    with p.expect_download() as info:
        p.get_by_role("link", name="CSV").click()
    download = info.value
    assert download.suggested_filename == "capitals-v1.csv"
    lines = open(download.path(), encoding="utf-8").read().splitlines()
    assert lines[0] == "id,input,expected_output,metadata,tags" and len(lines) == 6, lines

    compare = p.locator("form", has=p.get_by_role("button", name="Show changes"))
    compare.locator("select[name=from]").select_option("1")
    compare.locator("select[name=to]").select_option("2")
    compare.get_by_role("button", name="Show changes").click()
    p.wait_for_url("**/diff?from=1&to=2")
    assert p.inner_text(".inserted-count") == "2 inserted"
    assert p.inner_text(".updated-count") == "1 updated"
    assert p.inner_text(".deleted-count") == "1 deleted"
    changes = {row.get_attribute("data-record"): row.get_attribute("class")
               for row in p.locator("tr.change").all()}
    assert changes == {"australia": "change inserted", "canada": "change inserted",
                       "germany": "change deleted", "japan": "change updated"}, changes
    japan = p.locator("tr.change[data-record=japan] td.side")
    assert "Tokio" in japan.nth(0).inner_text() and "Tokyo" in japan.nth(1).inner_text()
    demo_page.shot("27-dataset-diff")
    demo_page.assert_clean()
