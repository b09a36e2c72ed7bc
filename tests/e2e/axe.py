"""axe-core in a Playwright page: the WCAG 2.0, 2.1 and 2.2 A and AA rules (docs/accessibility.md).

axe-core is vendored (tests/e2e/vendor/axe.min.js, version in AXE_VERSION, its licence beside
it), evaluated in the page under test and run there; no Python dependency.

    from tests.e2e.axe import assert_no_violations, violations
    assert_no_violations(page)                   # the whole page
    assert violations(page, "#app") == []        # one part of it
"""

from pathlib import Path

from playwright.sync_api import Page

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
AXE_VERSION = "4.14.1"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]

_RUN = """async ([context, tags]) => {
  const result = await axe.run(context === null ? document : context, {
    runOnly: { type: "tag", values: tags },
    // WCAG 2.2's target size (2.5.8, AA) is off in axe by default; on here.
    rules: { "target-size": { enabled: true } },
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    targets: v.nodes.map((n) => n.target.join(" ")),
    summaries: v.nodes.map((n) => n.failureSummary || ""),
  }));
}"""


def violations(page: Page, context: str | None = None) -> list[dict]:
    """axe's WCAG A/AA violations in the page (or in the part matching the CSS selector
    `context`): each {id, impact, help, targets: [selector, ...], summaries: [...]}."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # Evaluated by the browser's debugger, which the page's Content-Security-Policy (script-src
        # 'self') does not govern: a <script> tag would be refused, and the policy stays on.
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;typeof window.axe")
    return page.evaluate(_RUN, [context, WCAG_TAGS])


def describe(found: list[dict]) -> str:
    """The violations as lines a person can act on: rule, impact, what it wants, where."""
    lines = []
    for v in found:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for target, summary in zip(v["targets"], v["summaries"], strict=False):
            first = summary.splitlines()[1].strip() if summary.count("\n") else summary
            lines.append(f"    {target}  — {first}")
    return "\n".join(lines)


def assert_no_violations(page: Page, context: str | None = None, where: str = "") -> None:
    found = violations(page, context)
    assert not found, f"axe {AXE_VERSION} found {len(found)} WCAG A/AA violation(s) {where}:\n{describe(found)}"
