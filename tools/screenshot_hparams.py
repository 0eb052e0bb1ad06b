"""Screenshot TensorBoard's HParams dashboard (table view, then parallel coordinates) in headless
Chromium, as the README's figure was made:

    tensorboard --logdir runs/cpu/optimizer_bn --port 6123 &
    python tools/screenshot_hparams.py http://localhost:6123/#hparams TABLE.png PARALLEL.png

Needs Chromium and its driver (Debian: `apt-get install chromium chromium-driver`) and selenium
(`pip install selenium`, not in requirements.txt).
The dashboard is Polymer inside shadow DOM, so the page is searched and clicked by script; the
`seed` column, which TensorBoard leaves unticked, is ticked first.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.errors import UserImportError, entry_point  # noqa: E402

PROG = "tools/screenshot_hparams.py"

# Every element of the page, shadow roots included.
ALL_ELEMENTS = """
  const walk = (root, out) => { root.querySelectorAll('*').forEach(el => {
      out.push(el); if (el.shadowRoot) walk(el.shadowRoot, out); }); return out; };
  const all = walk(document, []);"""
TEXT = ALL_ELEMENTS + "return all.filter(el => !el.children.length).map(el => el.textContent).join(' ');"
TICK_SEED = (
    ALL_ELEMENTS
    + """
  const boxes = all.filter(el => el.tagName === 'PAPER-CHECKBOX' && el.textContent.trim() === 'seed');
  boxes.forEach(box => { if (!box.checked) box.click(); });
  return boxes.length;"""
)
OPEN_PARALLEL = (
    ALL_ELEMENTS
    + """
  const tabs = all.filter(el => el.tagName === 'PAPER-TAB' && el.textContent.trim().toUpperCase().startsWith('PARALLEL'));
  tabs.forEach(tab => tab.click());
  return tabs.length;"""
)


def wait_for_text(driver, text: str, seconds: float = 300) -> None:
    """Until `text` shows on the page (TensorBoard loads the sessions after the page itself)."""
    deadline = time.time() + seconds
    while text not in driver.execute_script(TEXT):
        if time.time() > deadline:
            raise TimeoutError(f"{text!r} did not appear within {seconds:.0f} s")
        time.sleep(5)


def chrome(width: int, height: int):
    """A headless Chromium driver with a window of width x height."""
    try:
        from selenium import webdriver
    except ImportError:
        raise UserImportError("needs selenium: pip install selenium (and Chromium with its driver)") from None
    options = webdriver.ChromeOptions()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(options=options)


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url", help="TensorBoard's HParams page, e.g. http://localhost:6123/#hparams")
    parser.add_argument("table_png", help="screenshot of the table view")
    parser.add_argument("parallel_png", help="screenshot of the parallel coordinates view")
    parser.add_argument("--width", type=int, default=2800)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args(argv)
    driver = chrome(args.width, args.height)
    try:
        driver.get(args.url)
        wait_for_text(driver, "lfw_view2/accuracy")
        if not driver.execute_script(TICK_SEED):
            raise RuntimeError("no 'seed' checkbox on the page")
        time.sleep(10)  # the table redraws with the new column
        driver.save_screenshot(args.table_png)
        if not driver.execute_script(OPEN_PARALLEL):
            raise RuntimeError("no parallel coordinates tab on the page")
        time.sleep(15)
        driver.save_screenshot(args.parallel_png)
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
