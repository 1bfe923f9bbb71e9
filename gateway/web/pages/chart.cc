#include "gateway/web/pages/chart.h"

#include <algorithm>
#include <cstdio>

#include "gateway/web/pages/html.h"

namespace portier::gateway::web {

namespace {

// A narrow drawing, so that its labels stay readable once scaled down to a phone.
constexpr double kWidth = 480, kHeight = 200;
constexpr double kLeft = 4, kRight = 476, kTop = 26, kBottom = 168;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

std::string bar_chart(std::string_view id, std::string_view title, std::string_view description,
                      const std::vector<chart_bar>& bars) {
  const std::string sid = escape(id);
  std::uint64_t max = 0;
  std::string max_text = "0";
  for (const auto& b : bars) {
    if (b.value > max) {
      max = b.value;
      max_text = b.value_text;
    }
  }

  std::string out = "<figure class=\"chart\">\n<svg viewBox=\"0 0 " + num(kWidth) + " " +
                    num(kHeight) + "\" role=\"img\" aria-label=\"" + escape(title) + ". " +
                    escape(description) + "\" aria-labelledby=\"" + sid + "-title " + sid +
                    "-desc\" xmlns=\"http://www.w3.org/2000/svg\">\n<title id=\"" + sid +
                    "-title\">" + escape(title) + "</title>\n<desc id=\"" + sid + "-desc\">" +
                    escape(description) + "</desc>\n";
  out += "<line class=\"axis\" x1=\"" + num(kLeft) + "\" y1=\"" + num(kBottom) + "\" x2=\"" +
         num(kRight) + "\" y2=\"" + num(kBottom) + "\"/>\n";
  if (!bars.empty()) {
    const double slot = (kRight - kLeft) / static_cast<double>(bars.size());
    const double width = std::max(1.0, slot * 0.8);
    for (std::size_t i = 0; i < bars.size(); ++i) {
      const auto& b = bars[i];
      const double h =
          max == 0 ? 0 : (kBottom - kTop) * static_cast<double>(b.value) / static_cast<double>(max);
      const double x = kLeft + slot * static_cast<double>(i) + (slot - width) / 2;
      out += "<rect class=\"bar\" x=\"" + num(x) + "\" y=\"" + num(kBottom - h) + "\" width=\"" +
             num(width) + "\" height=\"" + num(h) + "\"><title>" + escape(b.label) + ": " +
             escape(b.value_text) + "</title></rect>\n";
    }
    // The first and last bucket under the axis, the highest value above the chart.
    out += "<text class=\"tick\" x=\"" + num(kLeft) + "\" y=\"" + num(kHeight - 8) + "\">" +
           escape(bars.front().label) + "</text>\n";
    out += "<text class=\"tick end\" x=\"" + num(kRight) + "\" y=\"" + num(kHeight - 8) +
           "\" text-anchor=\"end\">" + escape(bars.back().label) + "</text>\n";
  }
  out += "<text class=\"tick\" x=\"" + num(kLeft) + "\" y=\"" + num(kTop - 8) + "\">" +
         escape(max_text) + "</text>\n";
  out += "</svg>\n</figure>\n";
  return out;
}

}  // namespace portier::gateway::web
