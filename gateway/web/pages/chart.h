// A bar chart drawn on the box as inline SVG: one <rect class="bar"> per bucket, each with a
// <title> ("14:00: 40 messages"), and the whole chart with role="img", an aria-label and a
// <title>/<desc> as its text alternative. No script, no style attribute: the colours come from
// the stylesheet's classes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace portier::gateway::web {

struct chart_bar {
  std::string label;  // plain text: the bucket's start ("14:00", "3 May")
  std::uint64_t value = 0;
  std::string value_text;  // plain text: the value in words ("40 messages")
};

// `id` makes the chart's element ids unique on the page; `title` and `description` are plain text
// (the description says in words what the bars show).
std::string bar_chart(std::string_view id, std::string_view title, std::string_view description,
                      const std::vector<chart_bar>& bars);

}  // namespace portier::gateway::web
