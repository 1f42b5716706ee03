"""The report in a real browser: headless Chromium driven over the DevTools protocol.

No extra package: Chromium's ``--remote-debugging-pipe`` speaks CDP as NUL-terminated JSON
over file descriptors 3 (in) and 4 (out), which the stdlib handles. Chromium is Debian's
``chromium`` package (``apt-get install -y chromium``); where it is missing these tests are
skipped with that reason. ``test_real_run_report_loads_without_errors`` makes real results
first: a small conformance run (float32, the moderate 16x10 softmax and cross-entropy cases,
about 10 s) in a subprocess, on whichever framework plug-ins are available (skipped with the
reason when none is), its results validated against the schema;
``LC_BROWSER_RESULTS=path/to/results.json`` points it at an existing results file instead.
The other tests use the hand-written fixture (hostile strings, a failure).
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from lossconform.reports.build import build
from lossconform.reports.results import load_results
from tests.report.schema_validation import assert_valid_results

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURE = HERE / "fixtures" / "small_results.json"
SCREENSHOT = REPO / "reports" / "out" / "screenshot.png"
REAL_SCREENSHOT = REPO / "reports" / "out" / "screenshot-real.png"
#: A small real conformance run: one dtype, the moderate 16x10 cases of the softmax and
#: cross-entropy ops (~800 records: agreements, divergences, unsupported checks).
REAL_RUN = ("lossconform/suite/test_matrix.py", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
            "--lc-dtypes", "float32", "-k", "moderate and 16x10 and (softmax or cross_entropy)")
REAL_RUN_TIMEOUT = 300
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"),
                             shutil.which("chromium-browser")) if p and os.path.exists(p)), None)
INSTALL_HINT = "headless Chromium not found: install it with `apt-get install -y chromium`"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
         "--remote-debugging-pipe")
TIMEOUT = 60.0


class CDPError(RuntimeError):
    pass


class Chromium:
    """A minimal Chrome DevTools Protocol client over --remote-debugging-pipe."""

    def __init__(self, binary: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="lc-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire_fds() -> None:  # in the child: its fd 3 reads our commands, fd 4 answers
            a = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 100)
            b = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 100)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=wire_fds,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_child_r)
        os.close(from_child_w)
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._events: "queue.Queue[dict[str, Any]]" = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session: str | None = None

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_child, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._replies[-1] = {"error": {"message": "browser closed the pipe"}}
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._cond:
                        self._replies[msg["id"]] = msg
                        self._cond.notify_all()
                else:
                    self._events.put(msg)

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: bool = True) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        with self._cond:
            while self._next_id not in self._replies and -1 not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CDPError(f"{method}: no answer in {TIMEOUT:.0f} s")
                self._cond.wait(left)
            reply = self._replies.pop(self._next_id, None) or self._replies[-1]
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def drain(self) -> None:
        while True:
            try:
                self.events.append(self._events.get_nowait())
            except queue.Empty:
                return

    def wait_event(self, method: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError(f"no {method} event in {timeout:.0f} s")
            try:
                event = self._events.get(timeout=left)
            except queue.Empty:
                continue
            self.events.append(event)
            if event.get("method") == method:
                return event

    def open_page(self, width: int = 1500, height: int = 1100) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.send("Target.attachToTarget",
                             {"targetId": target["targetId"], "flatten": True}, session=False)
        self.session = attached["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.send(domain)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def navigate(self, url: str) -> None:
        self.drain()
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise CDPError(f"{expression!r} raised: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.05)

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries seen so far."""
        self.drain()
        found = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                found.append(json.dumps(p.get("exceptionDetails", {}))[:500])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                found.append(json.dumps(p.get("args", []))[:500])
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                found.append(p["entry"].get("text", "")[:500])
        return found

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False)
        except CDPError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    if CHROMIUM is None:
        pytest.skip(INSTALL_HINT)
    chrome = Chromium(CHROMIUM)
    try:
        chrome.open_page()
    except CDPError as exc:
        stderr = chrome.proc.stderr.read().decode(errors="replace")[-2000:] \
            if chrome.proc.poll() is not None and chrome.proc.stderr else ""
        chrome.close()
        pytest.fail(f"Chromium did not start: {exc}\n{stderr}")
    yield chrome
    chrome.close()


@pytest.fixture(scope="module")
def fixture_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "report.html"
    result = build([FIXTURE], out)
    assert not result.errors
    return out


def _load(browser: Chromium, page: Path) -> None:
    browser.events.clear()
    browser.navigate(page.as_uri())
    assert browser.wait_for("document.body.getAttribute('data-ready') === '1'"), \
        f"the report script did not finish: {browser.errors()}"


def _count(browser: Chromium, selector: str) -> int:
    return browser.evaluate(f"document.querySelectorAll({json.dumps(selector)}).length")


@pytest.fixture(scope="module")
def real_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LC_BROWSER_RESULTS if set, else the results of a small real conformance run."""
    override = os.environ.get("LC_BROWSER_RESULTS")
    if override:
        return Path(override)
    from lossconform.plugins import load_adapters

    reasons = {name: adapter.available() for name, adapter in load_adapters().items()}
    if all(reasons.values()):
        pytest.skip("no real conformance run: no framework plug-in is available ("
                    + "; ".join(f"{n}: {r}" for n, r in sorted(reasons.items()))
                    + ") (set LC_BROWSER_RESULTS=path/to/results.json to use existing results)")
    out = tmp_path_factory.mktemp("real-run") / "results.json"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS"))}
    proc = subprocess.run([sys.executable, "-m", "pytest", *REAL_RUN, "--results", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=REAL_RUN_TIMEOUT)
    tail = (proc.stdout + proc.stderr)[-3000:]
    # 0: all passed; 1: some checks failed, which is still a real run to look at
    assert proc.returncode in (0, 1) and out.exists(), \
        f"the conformance run failed (exit {proc.returncode}):\n{tail}"
    assert_valid_results(out)
    doc = load_results(out)
    if not doc["records"]:
        reasons = "; ".join(f"{n}: {i.get('reason')}" for n, i in doc["frameworks"].items()
                            if isinstance(i, dict) and not i.get("available"))
        pytest.skip(f"the conformance run recorded no checks ({reasons or tail[-500:]})")
    return out


def test_real_run_report_loads_without_errors(browser: Chromium, real_results: Path,
                                               tmp_path: Path) -> None:
    """The page of real results: loads cleanly, filters, drills down to a repro; saves
    reports/out/screenshot-real.png (git-ignored)."""
    page = tmp_path / "real.html"
    assert not build([real_results], page).errors
    _load(browser, page)
    assert browser.errors() == []
    assert _count(browser, "table.matrix") >= 1
    before = _count(browser, "td.cell[data-row]")
    assert before >= 1
    assert browser.evaluate("document.getElementById('verdict-line').textContent").strip()
    labels = browser.evaluate("Array.from(document.querySelectorAll('td.cell[data-row]'))"
                              ".map(function (t) { return [t.className, t.textContent]; })")
    doc = load_results(real_results)
    if any(r.get("tolerance_used") is not None for r in doc["records"]):
        # cells show the tolerance used (a number, "≤0.01" or ∞), not max ULP ("…u")
        tol = [t for c, t in labels if "c-agree" in c]
        assert tol and all(not t.endswith("u") and t for t in tol), tol[:20]
    for c, t in labels:
        if "c-divergence" in c:  # the divergence's short id, never an error figure
            assert any(ch.isalpha() for ch in t), t
    # The verdict filter: untick the most common verdict, fewer cells stay.
    top = browser.evaluate("""(function () {
        var n = {};
        document.querySelectorAll('td.cell[data-row]').forEach(function (t) {
            var v = t.className.match(/c-(\\w+)/)[1]; n[v] = (n[v] || 0) + 1; });
        return Object.keys(n).sort(function (a, b) { return n[b] - n[a]; })[0];
    })()""")
    matching = browser.evaluate("document.body.getAttribute('data-matching')")
    browser.evaluate("""(function (v) {
        var boxes = document.querySelectorAll('fieldset[data-facet="v"] input');
        for (var i = 0; i < boxes.length; i++)
            if (boxes[i].parentNode.textContent.trim() === v) boxes[i].click();
    })(%s)""" % json.dumps(top))
    assert browser.evaluate("document.body.getAttribute('data-matching')") != matching
    assert _count(browser, "td.cell[data-row]") < before
    assert _count(browser, f"td.cell.c-{top}") == 0
    browser.evaluate("""(function (v) {  // back to everything
        var boxes = document.querySelectorAll('fieldset[data-facet="v"] input');
        for (var i = 0; i < boxes.length; i++)
            if (boxes[i].parentNode.textContent.trim() === v) boxes[i].click();
    })(%s)""" % json.dumps(top))
    assert _count(browser, "td.cell[data-row]") == before
    # A drill-down opens and shows a repro for the entry points of its row.
    assert browser.evaluate("document.getElementById('drill').hidden") is True
    browser.evaluate("(document.querySelector('td.cell.c-divergence') ||"
                     " document.querySelector('td.cell[data-row]')).click()")
    assert browser.evaluate("document.getElementById('drill').hidden") is False
    text = browser.evaluate("document.getElementById('drill-body').textContent")
    assert "Inputs" in text and "max ULP" in text
    repros = browser.evaluate("Array.from(document.querySelectorAll('#drill-body pre.repro'))"
                              ".map(function (p) { return p.textContent; })")
    assert repros and all("import" in r for r in repros), repros
    browser.screenshot(REAL_SCREENSHOT)
    assert REAL_SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert browser.errors() == []


def test_injected_script_does_not_run(browser: Chromium, fixture_page: Path) -> None:
    _load(browser, fixture_page)
    assert browser.errors() == []
    assert browser.evaluate("typeof window.__pwned") == "undefined"
    # The hostile case id is shown, as text, in a row header of the matrix.
    headers = browser.evaluate("Array.from(document.querySelectorAll('th.case'))"
                               ".map(function (t) { return t.textContent; })")
    assert "softmax-<script>window.__pwned=1</script>" in headers
    assert _count(browser, "#matrix-body script, #drill script, #matrix-body img") == 0
    assert browser.evaluate("document.querySelector('a[href^=\"javascript:\"]') === null")


def test_filter_changes_what_is_shown(browser: Chromium, fixture_page: Path) -> None:
    _load(browser, fixture_page)
    # the counts keep unsupported combinations apart from the checks
    status = "document.getElementById('matrix-status').textContent"
    assert browser.evaluate(status).startswith(
        "42 of 42 checks match (+ 1 of 1 unsupported combinations, not checks); ")
    assert browser.evaluate("document.getElementById('verdict-line').className") == \
        "verdict-line bad"
    before = _count(browser, "td.cell[data-row]")
    rows_before = _count(browser, "table.matrix tbody tr")
    # Untick "agree" in the verdict facet: only the non-agreeing cells stay.
    browser.evaluate("""(function () {
        var boxes = document.querySelectorAll('fieldset[data-facet="v"] input');
        for (var i = 0; i < boxes.length; i++) {
            if (boxes[i].parentNode.textContent.trim() === 'agree') boxes[i].click();
        }
    })()""")
    after = _count(browser, "td.cell[data-row]")
    assert 0 < after < before
    assert browser.evaluate(status).startswith(
        "4 of 42 checks match (+ 1 of 1 unsupported combinations, not checks); ")
    classes = browser.evaluate("Array.from(document.querySelectorAll('td.cell[data-row]'))"
                               ".map(function (t) { return t.className; })")
    assert not any("c-agree" in c for c in classes)
    assert _count(browser, "table.matrix tbody tr") < rows_before
    # The search box narrows to one op's case.
    browser.evaluate("""(function () {
        var s = document.getElementById('search'); s.value = 'nll_loss';
        s.dispatchEvent(new Event('input'));
    })()""")
    assert browser.wait_for("document.querySelectorAll('table.matrix tbody tr').length === 1")
    assert browser.errors() == []


def test_drill_down_opens_with_repro(browser: Chromium, fixture_page: Path) -> None:
    _load(browser, fixture_page)
    assert browser.evaluate("document.getElementById('drill').hidden") is True
    browser.evaluate("document.querySelector('.op-section[data-op=\"sigmoid\"] td.c-fail').click()")
    assert browser.evaluate("document.getElementById('drill').hidden") is False
    text = browser.evaluate("document.getElementById('drill-body').textContent")
    assert "Inputs" in text and "tolerance" in text and "reference (float64)" in text
    assert "tolerance used" in text and "outside tolerance" in text
    assert "import alpha" in text and "import beta as bt" in text  # both entry points
    assert "window.__pwned=2" in text  # the hostile message, shown as text
    assert browser.evaluate("typeof window.__pwned") == "undefined"
    # A divergence cell shows the registry's explanation and its link.
    browser.evaluate("document.querySelector("
                     "'.op-section[data-op=\"categorical_crossentropy\"] td.c-divergence').click()")
    text = browser.evaluate("document.getElementById('drill-body').textContent")
    assert "beta-clip-eps" in text and "epsilon=1e-7" in text
    assert browser.evaluate("document.querySelector('#drill-body a').href"
                            ".indexOf('https://github.com/beta-project') === 0")
    assert browser.errors() == []


def test_screenshot(browser: Chromium, fixture_page: Path) -> None:
    """Saves reports/out/screenshot.png (git-ignored) for a person to look at."""
    _load(browser, fixture_page)
    browser.evaluate("document.querySelector('.op-section[data-op=\"sigmoid\"] td.c-fail').click()")
    browser.screenshot(SCREENSHOT)
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert browser.errors() == []


@pytest.fixture(scope="module")
def large_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report large enough for every economy of a full run's page: compressed data blocks,
    summary views drawn on demand, op sections drawn when they scroll into view."""
    from benchmarks.report_build import synthetic_results, write_results
    from lossconform.reports import build as report_build

    where = tmp_path_factory.mktemp("large")
    results = where / "results.json"
    write_results(synthetic_results(report_build.LAZY_VIEWS_MIN_RECORDS + 5000), results)
    out = where / "report.html"
    assert not build([results], out).errors
    html = out.read_text(encoding="utf-8")
    for block in ("lc-data", "lc-detail"):
        assert f'id="{block}" data-encoding="gzip+base64">' in html
    assert '<template class="lazy-view">' in html
    return out


def test_large_report_opens_filters_and_drills_down(browser: Chromium, large_page: Path) -> None:
    _load(browser, large_page)
    assert browser.errors() == []
    status = browser.evaluate("document.getElementById('matrix-status').textContent")
    assert "checks match" in status and "scrolls into view" in status
    assert _count(browser, "td.cell[data-row]") >= 1
    # summary views are templates until their section comes near
    assert _count(browser, "template.lazy-view") >= 3
    browser.evaluate("document.getElementById('pairwise').scrollIntoView()")
    assert browser.wait_for("document.querySelectorAll('#pairwise table.pairwise').length > 0")
    browser.evaluate("window.scrollTo(0, 0)")
    # a filter: untick "agree"
    matching = browser.evaluate("document.body.getAttribute('data-matching')")
    browser.evaluate("""(function () {
        var boxes = document.querySelectorAll('fieldset[data-facet="v"] input');
        for (var i = 0; i < boxes.length; i++)
            if (boxes[i].parentNode.textContent.trim() === 'agree') boxes[i].click();
    })()""")
    assert browser.evaluate("document.body.getAttribute('data-matching')") != matching
    assert _count(browser, "td.cell.c-agree") == 0
    # the drill-down inflates the detail block the first time, then shows the repro
    browser.evaluate("document.querySelector('td.cell[data-row]').click()")
    assert browser.wait_for("document.querySelectorAll('#drill-body pre.repro').length > 0")
    text = browser.evaluate("document.getElementById('drill-body').textContent")
    assert "Inputs" in text and "from lossconform.cases import BY_ID" in text
    title = browser.evaluate("document.getElementById('drill-title').textContent")
    case_id = title.split(" \u00b7 ")[-1]
    assert f"BY_ID[{case_id!r}]" in text  # the template filled with the record's case id
    assert browser.errors() == []
