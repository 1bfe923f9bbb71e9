// The stylesheet keeps text readable (WCAG 2.1 contrast of at least 4.5:1) and focus visible.
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

#include "gateway/web/app.h"

#include <CppUTest/TestHarness.h>

using portier::gateway::web::app_stylesheet;

namespace {

struct rule {
  std::string selector, declarations;
};

// The rules with declarations, at-rule wrappers (@media) opened.
std::vector<rule> rules(std::string_view css) {
  std::vector<rule> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t open = css.find('{', start);
    if (open == std::string_view::npos) break;
    const std::size_t next = css.find_first_of("{}", open + 1);
    std::string selector(css.substr(start, open - start));
    selector.erase(0, selector.find_first_not_of(" \n}"));
    selector.erase(selector.find_last_not_of(" \n") + 1);
    if (next != std::string_view::npos && css[next] == '{') {  // an at-rule's block
      start = open + 1;
      continue;
    }
    out.push_back({selector, std::string(css.substr(open + 1, next - open - 1))});
    start = next + 1;
  }
  return out;
}

// The hex colour of `property` ("color", "background", "fill") in `declarations`.
std::optional<std::string> colour(const std::string& declarations, const std::string& property) {
  std::size_t pos = 0;
  while ((pos = declarations.find(property + ":", pos)) != std::string::npos) {
    const bool whole = pos == 0 || declarations[pos - 1] == ' ' || declarations[pos - 1] == ';' ||
                       declarations[pos - 1] == '\n';
    pos += property.size() + 1;
    if (!whole) continue;
    const std::size_t hash = declarations.find('#', pos);
    if (hash == std::string::npos || hash > declarations.find(';', pos)) return std::nullopt;
    return declarations.substr(hash, 7);
  }
  return std::nullopt;
}

double luminance(const std::string& hex) {
  double l = 0;
  const double weights[3] = {0.2126, 0.7152, 0.0722};
  for (int i = 0; i < 3; ++i) {
    const double c = std::strtol(hex.substr(1 + 2 * i, 2).c_str(), nullptr, 16) / 255.0;
    l += weights[i] * (c <= 0.03928 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4));
  }
  return l;
}

double contrast(const std::string& a, const std::string& b) {
  const double la = luminance(a), lb = luminance(b);
  return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
}

}  // namespace

TEST_GROUP(stylesheet){};

TEST(stylesheet, the_contrast_check_knows_its_numbers) {
  DOUBLES_EQUAL(21.0, contrast("#000000", "#ffffff"), 0.01);
  DOUBLES_EQUAL(4.54, contrast("#767676", "#ffffff"), 0.01);
}

TEST(stylesheet, every_text_colour_has_a_contrast_of_at_least_4_5_on_its_background) {
  int checked = 0;
  for (const auto& r : rules(app_stylesheet())) {
    const auto fg = colour(r.declarations, "color");
    const auto bg = colour(r.declarations, "background");
    // A background without its text colour could not be checked: the stylesheet always pairs them.
    CHECK_TEXT(!bg || fg, r.selector.c_str());
    if (!fg) continue;
    const double ratio = contrast(*fg, bg.value_or("#ffffff"));
    CHECK_TEXT(ratio >= 4.5, (r.selector + ": " + std::to_string(ratio)).c_str());
    ++checked;
  }
  CHECK(checked >= 15);
}

TEST(stylesheet, chart_bars_and_focus_outlines_stand_out_from_the_page) {
  bool bar = false, focus = false;
  for (const auto& r : rules(app_stylesheet())) {
    if (r.selector == ".chart .bar") {
      bar = true;
      CHECK(contrast(colour(r.declarations, "fill").value(), "#ffffff") >= 3.0);
    }
    if (r.selector == ":focus-visible") {
      focus = true;
      const auto at = r.declarations.find("outline: 3px solid #");
      CHECK(at != std::string::npos);
      CHECK(contrast(r.declarations.substr(at + 18, 7), "#ffffff") >= 3.0);
    }
  }
  CHECK(bar);
  CHECK(focus);
}
