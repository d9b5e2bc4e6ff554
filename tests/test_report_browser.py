"""report.html in a real browser: Debian's headless Chromium lays out every section and draws the diagram.

One browser session serves the module (Selenium with Debian's chromedriver; both paths are
given, so Selenium Manager never looks for or downloads a driver). Each check is measured in
the DOM (sections, images, colours) and then in a screenshot read with Pillow (text drawn in
every section, a diagram with colour in it, the inlined icon's own colour where it was put).
The negative controls prove the checks fail on a broken image and on a blank page.
"""

import base64
import io
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.report_fixtures import (
    DIAGRAM_SIZE,
    ICON_BOX,
    ICON_COLOUR,
    copy_plan,
    draw_fixture_diagram,
    previous_inventory,
)
from tools.inventory import diff_inventories
from tools.report import SECTIONS, write_report

# Debian's packages by default (`make browser-tools` installs them where missing); the Makefile
# passes CHROMIUM and CHROMEDRIVER on, so a machine with another matched pair (the GitHub runner's
# Google Chrome and its ChromeDriver) names those instead.
CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
CHROMEDRIVER = Path(os.environ.get("CHROMEDRIVER") or "/usr/bin/chromedriver")
WINDOW = (1280, 1000)
# A pixel darker than this (0-255 luminance) is ink: text, lines, borders.
DARK = 100


@pytest.fixture(scope="module")
def browser():
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} missing: run `make browser-tools` (Debian's chromium and chromium-driver), "
            "or set CHROMIUM and CHROMEDRIVER to a matched browser and driver",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    options.add_argument("--headless=new")
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    # One CSS pixel per screenshot pixel, so DOM rectangles crop the screenshot directly.
    options.add_argument("--force-device-scale-factor=1")
    options.add_argument("--hide-scrollbars")
    # Containers give /dev/shm 64 MiB, too little for Chromium's renderer on a long page.
    options.add_argument("--disable-dev-shm-usage")
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to start its sandbox as root
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def report(planned, tmp_path_factory) -> Path:
    """prod's report.html from a real plan (tests/conftest.py `planned`, copied so the shared plan
    keeps its own page), with a diff against an earlier inventory, so every section is there."""
    out_dir, inventory = copy_plan(planned, "prod", tmp_path_factory.mktemp("browser"))
    old, _ = previous_inventory(inventory)
    return write_report(out_dir, inventory, diff_inventories(old, inventory))


def _open(driver, page: Path) -> None:
    driver.get(page.as_uri())
    assert driver.execute_script("return document.readyState") == "complete"


def hidden_rows(driver) -> list[str]:
    """Table rows the browser does not show (hidden, transparent or collapsed), by their section."""
    return driver.execute_script(
        """return Array.from(document.querySelectorAll('tbody tr')).filter(r => {
             const b = r.getBoundingClientRect();
             return !r.checkVisibility({opacityProperty: true, visibilityProperty: true})
               || b.width === 0 || b.height === 0;
           }).map(r => r.closest('section').id);"""
    )


def image_problems(driver) -> list[str]:
    """Every <img> that did not load or decode (a missing image), by its alt text."""
    return driver.execute_script(
        "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt);"
    )


def full_page(driver) -> Image.Image:
    """A screenshot of the whole page (beyond the window), one pixel per CSS pixel."""
    width, height = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight];"
    )
    clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    return Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB")


def boxes(driver, selector: str) -> list[dict[str, float]]:
    """Page coordinates of the elements matching `selector`."""
    return driver.execute_script(
        """return Array.from(document.querySelectorAll(arguments[0])).map(e => {
             const r = e.getBoundingClientRect();
             return {left: r.left + scrollX, top: r.top + scrollY, width: r.width, height: r.height};
           });""",
        selector,
    )


def crop(shot: Image.Image, box: dict[str, float]) -> Image.Image:
    return shot.crop(
        (round(box["left"]), round(box["top"]), round(box["left"] + box["width"]), round(box["top"] + box["height"]))
    )


def ink(image: Image.Image) -> int:
    """How many pixels are dark: text and lines drawn."""
    return sum(image.convert("L").histogram()[:DARK])


def test_every_section_and_the_diagram_render(browser, report, tmp_path):
    _open(browser, report)
    rendered = browser.execute_script(
        """return arguments[0].map(id => {
             const e = document.getElementById(id);
             if (!e) return {id: id, missing: true};
             const h = e.querySelector('h2');
             return {id: id, tag: e.tagName, height: e.getBoundingClientRect().height,
                     headingHeight: h ? h.getBoundingClientRect().height : 0, heading: h ? h.innerText : ''};
           });""",
        [key for key, _ in SECTIONS],
    )
    for (_, heading), section in zip(SECTIONS, rendered, strict=True):
        assert section.get("tag") == "SECTION", section
        assert section["heading"].startswith(heading), section
        assert section["height"] - section["headingHeight"] > 40, (
            f"section {section['id']} shows nothing under its heading"
        )
    assert image_problems(browser) == []
    assert hidden_rows(browser) == []
    (diagram,) = browser.execute_script(
        """return Array.from(document.querySelectorAll('#diagram img')).map(i => {
             const r = i.getBoundingClientRect();
             return {width: r.width, height: r.height, naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight};
           });"""
    )
    assert diagram["width"] >= 300 and diagram["height"] >= 100, diagram
    assert abs(diagram["width"] / diagram["height"] - diagram["naturalWidth"] / diagram["naturalHeight"]) < 0.05
    # Readable: nothing wider than the window (long URNs and values wrap).
    assert browser.execute_script("return document.documentElement.scrollWidth <= innerWidth")

    shot = full_page(browser)
    shot.save(tmp_path / "report.png")
    assert ink(shot) > 0.01 * shot.width * shot.height  # a page of text, not a blank one
    for key, _ in SECTIONS:
        (section,), (heading,) = boxes(browser, f"#{key}"), boxes(browser, f"#{key} > h2")
        below = heading["top"] + heading["height"]
        body = {**section, "top": below, "height": section["top"] + section["height"] - below}
        assert ink(crop(shot, heading)) > 100, f"no heading drawn in section {key}"
        assert ink(crop(shot, body)) > 1000, f"nothing drawn under the heading of section {key}"
    picture = crop(shot, boxes(browser, "#diagram img")[0])
    colours = picture.getcolors(maxcolors=1 << 16) or []
    assert len(colours) >= 16, f"the diagram has {len(colours)} colours: not drawn"
    assert max(count for count, _ in colours) < 0.97 * picture.width * picture.height, "the diagram is one flat colour"


def test_the_diff_is_highlighted_in_colour(browser, report):
    _open(browser, report)
    backgrounds = browser.execute_script(
        """return Object.fromEntries(['added', 'removed', 'changed'].map(kind => [kind,
             getComputedStyle(document.querySelector('#changes tr.' + kind + ' td')).backgroundColor]));"""
    )
    rgb = {
        kind: tuple(int(v) for v in colour[colour.index("(") + 1 : -1].split(",")[:3])
        for kind, colour in backgrounds.items()
    }
    red, green, blue = 0, 1, 2
    assert rgb["added"][green] > rgb["added"][red] and rgb["added"][green] > rgb["added"][blue], rgb
    assert rgb["removed"][red] > rgb["removed"][green] and rgb["removed"][red] > rgb["removed"][blue], rgb
    assert min(rgb["changed"][red], rgb["changed"][green]) > rgb["changed"][blue], rgb  # yellow


def test_the_page_fits_a_printed_portrait_page(browser, report):
    # An A4 page at 96 CSS pixels per inch, less 10 mm margins each side: about 720 px wide.
    browser.set_window_size(720, WINDOW[1])
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        _open(browser, report)
        overflowing = browser.execute_script(
            """return Array.from(document.querySelectorAll('section, table, figure img'))
                 .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                 .map(e => (e.closest('section') || e).id + ' ' + e.tagName);"""
        )
        assert overflowing == []
        assert browser.execute_script("return document.documentElement.scrollWidth <= innerWidth")
        assert image_problems(browser) == []
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        browser.set_window_size(*WINDOW)


def test_the_inlined_icon_is_drawn(browser, planned, tmp_path):
    source, inventory = planned("prod")
    out_dir = tmp_path / "prod"
    out_dir.mkdir()
    for name in ("policy-report.json", "quotas.json", "capacity.json"):
        shutil.copy(source / name, out_dir / name)
    icon = tmp_path / "icons" / "cloudflare.png"
    draw_fixture_diagram(out_dir / "architecture.svg", icon)
    page = write_report(out_dir, inventory, None)
    icon.unlink()  # the page must not need it
    _open(browser, page)
    assert image_problems(browser) == []
    box = boxes(browser, "#diagram img")[0]
    scale = box["width"] / DIAGRAM_SIZE[0]
    x, y, w, h = ICON_BOX
    centre = (round(box["left"] + (x + w / 2) * scale), round(box["top"] + (y + h / 2) * scale))
    pixel = full_page(browser).getpixel(centre)
    assert isinstance(pixel, tuple) and all(abs(a - b) <= 8 for a, b in zip(pixel, ICON_COLOUR, strict=True)), pixel


def test_the_checks_catch_a_broken_image_and_a_blank_page(browser, report, tmp_path):
    page = report.read_text()
    start = page.index("data:image/svg+xml;base64,") + len("data:image/svg+xml;base64,")
    end = page.index('"', start)
    broken = tmp_path / "report.html"
    broken.write_text(page[:start] + base64.b64encode(b"<svg><g>not closed").decode() + page[end:])
    _open(browser, broken)
    assert image_problems(browser) == ["Architecture diagram of the prod stack (architecture.svg of this plan)"]

    hidden = tmp_path / "hidden.html"
    hidden.write_text(page.replace("</style>", "#quotas table { visibility: hidden; }</style>", 1))
    _open(browser, hidden)
    assert set(hidden_rows(browser)) == {"quotas"}

    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><head><title>blank</title></head><body></body></html>")
    _open(browser, blank)
    shot = full_page(browser)
    assert ink(shot) == 0 and len(shot.getcolors(maxcolors=1 << 16) or []) == 1
