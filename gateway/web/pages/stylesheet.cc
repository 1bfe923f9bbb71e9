// GET /style.css: the page's only stylesheet. Colours keep text at a contrast of at least 4.5:1
// on its background (dark text on white, white on the buttons' blue and red): every rule that sets
// a background sets the text colour with it, so the pair can be checked (stylesheet_test.cc).
// Focus is always visible, and the layout is one column on a phone.
#include "gateway/web/pages/layout.h"
#include "gateway/web/pages/pages.h"

namespace portier::gateway::web {

namespace {

constexpr std::string_view kStylesheet = R"css(
*, *::before, *::after { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 100%;
  line-height: 1.5; color: #1a1a1a; background: #ffffff; }
body { margin: 0 auto; max-width: 60rem; padding: 0 1rem 2rem; }
a { color: #0b57a4; text-underline-offset: 0.15em; }
a:hover { color: #073b70; }
:focus-visible { outline: 3px solid #1a1a1a; outline-offset: 2px; }
button:focus-visible { outline: 3px solid #1a1a1a; outline-offset: 3px; }
.skip { position: absolute; left: -999px; top: 0.5rem; background: #ffffff; color: #0b57a4;
  padding: 0.5rem 1rem; z-index: 10; }
.skip:focus { left: 0.5rem; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1.5rem;
  border-bottom: 1px solid #767676; padding: 0.75rem 0; }
.brand { font-weight: 700; font-size: 1.25rem; margin: 0; }
ul.nav, ul.spans { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap;
  gap: 0.25rem 1rem; }
ul.nav a, ul.spans a { display: inline-block; padding: 0.5rem 0.25rem; }
a[aria-current="page"] { font-weight: 700; color: #1a1a1a; text-decoration-thickness: 3px; }
main { padding-top: 1rem; }
main:focus { outline: none; }
h1 { font-size: 1.75rem; line-height: 1.2; margin: 0.5rem 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.35rem; margin: 2rem 0 0.5rem; overflow-wrap: anywhere; }
h3 { font-size: 1.1rem; margin: 1.5rem 0 0.5rem; overflow-wrap: anywhere; }
p, li, dd { overflow-wrap: anywhere; }
button { font: inherit; font-weight: 600; color: #ffffff; background: #0b57a4;
  border: 2px solid #0b57a4; border-radius: 0.4rem; padding: 0.5rem 1rem; min-height: 2.75rem;
  cursor: pointer; }
button:hover { color: #ffffff; background: #073b70; border-color: #073b70; }
button.quiet { color: #0b57a4; background: #ffffff; }
button.quiet:hover { color: #073b70; background: #eef4fb; }
button.refuse, button.danger { color: #ffffff; background: #a4161a; border-color: #a4161a; }
button.refuse:hover, button.danger:hover { color: #ffffff; background: #7a1013; border-color: #7a1013; }
button.big { font-size: 1.25rem; padding: 0.9rem 1.5rem; width: 100%; max-width: 28rem; }
button.pause { color: #ffffff; background: #1a1a1a; border-color: #1a1a1a; }
button.resume { color: #ffffff; background: #1e6b2e; border-color: #1e6b2e; }
form.inline { display: inline-block; margin: 0.25rem 0.5rem 0.25rem 0; }
.actions { display: flex; flex-wrap: wrap; gap: 0.25rem; }
.state { font-size: 1.15rem; font-weight: 600; }
.is-paused, .is-refused { color: #a4161a; }
.is-on, .is-granted { color: #1e6b2e; }
.warning, .problem { border-left: 4px solid #a4161a; padding: 0.5rem 0.75rem; color: #1a1a1a;
  background: #fdf0f0; }
.notice { border-left: 4px solid #1e6b2e; padding: 0.25rem 0.75rem; color: #1a1a1a;
  background: #eff8f1; }
.note, .meta, .kind { color: #4a4a4a; }
.flag { display: inline-block; font-weight: 700; color: #5c3c00; background: #fff0c2;
  border: 2px solid #8a5a00; border-radius: 0.3rem; padding: 0 0.4rem; }
.big-flag { display: block; padding: 0.5rem 0.75rem; }
li.update { border-top: 1px solid #767676; padding-bottom: 1rem; }
li.update.widens { border-left: 6px solid #8a5a00; padding-left: 0.75rem; }
ol.updates, ul.changes, ul.cards, ul.decisions { list-style: none; padding: 0; }
ul.decisions li { padding: 0.25rem 0; border-bottom: 1px solid #d0d0d0; }
.device { display: block; font-weight: 600; }
li.card { border: 1px solid #767676; border-radius: 0.5rem; padding: 0 1rem; margin: 0.75rem 0; }
li.card h2 { margin-top: 0.75rem; }
dl { margin: 0.5rem 0; }
dt { font-weight: 700; margin-top: 0.75rem; }
dd { margin: 0.25rem 0 0 0; }
dl.before-after { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
dl.before-after dt { margin: 0; }
dl.before-after ul { margin: 0; padding-left: 1.2rem; }
.table { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
td { overflow-wrap: break-word; }
th, td { text-align: left; padding: 0.4rem 0.6rem; border-bottom: 1px solid #d0d0d0;
  vertical-align: top; }
th.num, td.num { text-align: right; white-space: nowrap; }
ul.kept { list-style: none; padding: 0; }
.count { display: inline-block; min-width: 5rem; font-weight: 700; }
pre, code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.9rem; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; color: #1a1a1a; background: #f3f3f3;
  border: 1px solid #d0d0d0; border-radius: 0.3rem; padding: 0.75rem; }
code { overflow-wrap: anywhere; }
.beside { display: grid; grid-template-columns: 1fr; gap: 0 2rem; }
@media (min-width: 48rem) { .beside { grid-template-columns: 1fr 1fr; } }
section.release { border-top: 1px solid #d0d0d0; }
.chart { margin: 1rem 0; }
.chart svg { width: 100%; max-width: 42rem; height: auto; display: block; }
.chart .bar { fill: #0b57a4; }
.chart .axis { stroke: #4a4a4a; stroke-width: 1; }
.chart .tick { fill: #1a1a1a; font-size: 17px; }
footer.session { border-top: 1px solid #767676; margin-top: 2rem; padding-top: 1rem; }
label { display: block; font-weight: 700; margin: 1rem 0 0.25rem; }
input[type="text"] { font: inherit; font-size: 1.25rem; letter-spacing: 0.1em; width: 100%;
  max-width: 16rem; padding: 0.5rem; border: 2px solid #4a4a4a; border-radius: 0.3rem;
  color: #1a1a1a; background: #ffffff; }
.hint { color: #4a4a4a; margin: 0.25rem 0 1rem; }
@media (prefers-reduced-motion: reduce) { * { transition: none !important; } }
)css";

}  // namespace

app_response stylesheet(const page_context&) {
  app_response r;
  r.content_type = "text/css; charset=utf-8";
  r.body = std::string(app_stylesheet());
  return r;
}

std::string_view app_stylesheet() {
  return kStylesheet;
}

}  // namespace portier::gateway::web
