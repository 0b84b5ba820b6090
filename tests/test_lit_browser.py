"""The screening page in headless Chromium (Debian's /usr/bin/chromium through Playwright): keys land in
decisions.jsonl, a full-text exclusion needs a reason, a reload keeps the decisions, undo appends, and two
reviewers produce a conflict that `lit conflicts` lists.

Deliberately no skip: if Playwright or Chromium is missing this test fails (CI installs both)."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager

import pytest
from playwright.sync_api import sync_playwright

from fmreview.lit.review import Record, Review
from fmreview.lit.screening import Screening, make_server
from fmreview.reports.cli import main

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]

TOPICS = ["chest x-ray foundation model segmentation", "MRI transformer pretraining radiology",
          "CT lesion detection with self-supervised encoders", "bread fermentation yeast", "tax policy and firms",
          "coral reef bleaching", "arctic tern migration", "ports of the hanseatic league"]


@contextmanager
def serving(review: Review, stage: str):
    server = make_server(Screening(review, stage=stage, reviewer="ann"), port=0)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        assert server.server_address[0] == "127.0.0.1"
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        t.join(5)


def log(review: Review) -> list[dict]:
    p = review.root / "decisions.jsonl"
    return [json.loads(x) for x in p.read_text().splitlines()] if p.exists() else []


def shown(page) -> str:
    page.wait_for_function("document.querySelector('#record').dataset.id !== ''")
    return page.eval_on_selector("#record", "e => e.dataset.id")


def press_and_wait(page, key: str, old: str) -> str:
    page.keyboard.press(key)
    page.wait_for_function("old => document.querySelector('#record').dataset.id !== old", arg=old)
    return page.eval_on_selector("#record", "e => e.dataset.id")


@pytest.fixture()
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def test_screening_page(tmp_path, browser, capsys):
    rv = Review.create(tmp_path / "rev", title="browser review")
    rv.add_records([Record(id=Record.make_id("t", t), source="t", title=t.capitalize(), abstract=f"About {t}.",
                           authors=["A. Author", "B. Author"], year=2020 + k) for k, t in enumerate(TOPICS)])

    with serving(rv, "screening") as url:
        ann = browser.new_page()
        bob = browser.new_page()
        ann.goto(url + "?reviewer=ann")
        bob.goto(url + "?reviewer=bob")
        first = shown(ann)
        assert shown(bob) == first  # cold start: the same seeded order for both
        assert ann.inner_text("#reviewer") == "ann" and bob.inner_text("#reviewer") == "bob"
        assert ann.inner_text("#progress") == f"0 / {len(TOPICS)}"

        # ann includes, bob excludes the same record: a conflict
        second = press_and_wait(ann, "i", first)
        press_and_wait(bob, "e", first)
        third = press_and_wait(ann, "i", second)
        fourth = press_and_wait(ann, "e", third)
        ann.fill("#note", "only the abstract")
        ann.locator("body").click(position={"x": 5, "y": 5})  # leave the note field: keys decide again
        fifth = press_and_wait(ann, "m", fourth)
        got = [(d["id"], d["decision"], d["reviewer"]) for d in log(rv)]
        assert got == [(first, "include", "ann"), (first, "exclude", "bob"), (second, "include", "ann"),
                       (third, "exclude", "ann"), (fourth, "maybe", "ann")]
        assert log(rv)[-1]["note"] == "only the abstract" and all(d["stage"] == "screening" for d in log(rv))
        assert ann.inner_text("#progress") == f"4 / {len(TOPICS)}"
        assert ann.inner_text("#since") == "2"
        assert "%" in ann.inner_text("#recall")  # the model is trained: an estimate is shown

        # a reload keeps the decisions: the record served is one ann has not decided
        ann.reload()
        again = shown(ann)
        assert again == fifth and again not in {first, second, third, fourth}
        assert ann.inner_text("#progress") == f"4 / {len(TOPICS)}"

        # undo brings back the last record; the next key appends a new decision, the log keeps both
        ann.keyboard.press("u")
        ann.wait_for_function("old => document.querySelector('#record').dataset.id === old", arg=fourth)
        assert "maybe" in ann.inner_text("#previous")
        press_and_wait(ann, "e", fourth)
        assert [(d["id"], d["decision"]) for d in log(rv)][-2:] == [(fourth, "maybe"), (fourth, "exclude")]
        assert Review(rv.root).latest("screening")[fourth]["ann"].decision == "exclude"
        assert "1" == ann.inner_text("#conflicts")

    rc = main(["lit", "conflicts", "--review", str(rv.root), "--stage", "screening", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and [c["id"] for c in out["conflicts"]] == [first]
    assert out["conflicts"][0]["decisions"] == {"ann": "include", "bob": "exclude"}
    assert out["pairs"][0]["reviewers"] == ["ann", "bob"] and out["pairs"][0]["records"] == 1

    # full text: only `second` was included at screening without a conflict
    with serving(Review(rv.root), "eligibility") as url:
        page = browser.new_page()
        page.goto(url + "?reviewer=ann")
        assert shown(page) == second
        n = len(log(rv))
        page.keyboard.press("e")
        page.wait_for_function("document.querySelector('#message').textContent.includes('needs a reason')")
        assert len(log(rv)) == n and shown(page) == second  # refused: nothing written, same record
        # the server refuses it too, whatever the page does
        status = page.evaluate("""async id => (await fetch('/api/decide', {method: 'POST',
            headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({id: id, decision: 'exclude', reviewer: 'ann'})})).status""", second)
        assert status == 400 and len(log(rv)) == n
        page.fill("#reason", "no quantitative evaluation")
        page.press("#reason", "Enter")
        page.wait_for_function("document.querySelector('#message').textContent.startsWith('Saved')")
        last = log(rv)[-1]
        assert (last["id"], last["stage"], last["decision"], last["reason"]) == \
            (second, "eligibility", "exclude", "no quantitative evaluation")
        assert "Nothing left" in page.inner_text("#title")
        assert page.eval_on_selector_all("#reasons option", "os => os.map(o => o.value)") == \
            ["no quantitative evaluation"]
