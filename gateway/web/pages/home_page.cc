// GET / ("What left my home"), POST /pause and POST /resume.
#include <algorithm>
#include <array>

#include "gateway/web/pages/chart.h"
#include "gateway/web/pages/control_ask.h"
#include "gateway/web/pages/format.h"
#include "gateway/web/pages/html.h"
#include "gateway/web/pages/layout.h"
#include "gateway/web/pages/pages.h"

namespace portier::gateway::web {

namespace {

constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 24 * kHourMs;

// The periods the page offers, and the chart's bucket for each: 24 hours, 28 quarters of a day,
// 30 days.
struct span_choice {
  std::string_view key;
  std::int64_t length_ms;
  std::int64_t bucket_ms;
};
constexpr std::array<span_choice, 3> kSpans = {{
    {"day", kDayMs, kHourMs},
    {"week", 7 * kDayMs, 6 * kHourMs},
    {"month", 30 * kDayMs, kDayMs},
}};

std::string_view span_name(const texts& t, std::string_view key) {
  if (key == "week") return t.span_week;
  if (key == "month") return t.span_month;
  return t.span_day;
}

std::string sharing_section(const page_context& c, bool paused) {
  const texts& t = c.t;
  std::string out =
      "<section class=\"sharing\" aria-labelledby=\"sharing-h\">\n"
      "<h2 id=\"sharing-h\">" +
      escape(t.sharing_heading) + "</h2>\n";
  out += std::string("<p class=\"state ") + (paused ? "is-paused" : "is-on") + "\">" +
         escape(paused ? t.paused_state : t.active_state) + "</p>\n";
  out += form_open(paused ? "/resume" : "/pause", c.request.csrf_token) +
         button(paused ? t.resume_button : t.pause_button, paused ? "big resume" : "big pause") +
         "</form>\n</section>\n";
  return out;
}

std::string suspended_section(const page_context& c, const control::PurposesResult& p) {
  std::string items;
  for (const auto& purpose : p.purpose()) {
    if (purpose.suspended()) {
      items +=
          "<li>" + escape(purpose.title().empty() ? purpose.id() : purpose.title()) + "</li>\n";
    }
  }
  if (items.empty()) return {};
  return "<section class=\"suspended\" aria-labelledby=\"suspended-h\">\n<h2 id=\"suspended-h\">" +
         escape(c.t.suspended_heading) + "</h2>\n<p>" + escape(c.t.suspended_intro) +
         "</p>\n<ul>\n" + items + "</ul>\n</section>\n";
}

std::string span_links(const page_context& c, const span_choice& current) {
  std::string out = "<nav aria-label=\"" + escape(c.t.span_label) + "\">\n<ul class=\"spans\">\n";
  for (const auto& s : kSpans) {
    out += "<li><a href=\"" + escape(local_url("/", {{"span", std::string(s.key)}})) + "\"";
    if (s.key == current.key) out += " aria-current=\"page\"";
    out += ">" + escape(span_name(c.t, s.key)) + "</a></li>\n";
  }
  return out + "</ul>\n</nav>\n";
}

std::string bucket_label(language lang, const span_choice& span, std::int64_t start_ms) {
  if (span.bucket_ms >= kDayMs) return format_day(lang, start_ms);
  if (span.bucket_ms > kHourMs) return format_day(lang, start_ms) + " " + format_clock(start_ms);
  return format_clock(start_ms);
}

std::string chart_section(const page_context& c, const span_choice& span,
                          const control::ReportResult& r) {
  const language lang = c.lang();
  const std::size_t n = std::min<std::size_t>(r.buckets(), 1000);
  std::vector<chart_bar> bars(n);
  for (const auto& row : r.row()) {
    for (int i = 0; i < row.bucket_messages_size() && static_cast<std::size_t>(i) < n; ++i) {
      bars[static_cast<std::size_t>(i)].value += row.bucket_messages(i);
    }
  }
  const std::int64_t bucket_ms = r.bucket_ms() > 0 ? r.bucket_ms() : span.bucket_ms;
  std::size_t top = 0;
  for (std::size_t i = 0; i < n; ++i) {
    bars[i].label =
        bucket_label(lang, span, r.since_ms() + static_cast<std::int64_t>(i) * bucket_ms);
    bars[i].value_text = format_messages(lang, bars[i].value);
    if (bars[i].value > bars[top].value) top = i;
  }
  if (bars.empty()) return {};
  const std::string_view title = span.bucket_ms >= kDayMs   ? c.t.chart_per_day
                                 : span.bucket_ms > kHourMs ? c.t.chart_per_6h
                                                            : c.t.chart_per_hour;
  const std::string description =
      fill(c.t.chart_desc, {format_messages(lang, r.total_messages()), bars.front().label,
                            bars.back().label, bars[top].value_text, bars[top].label});
  return bar_chart("chart", title, description, bars);
}

// The device a row is about, as text (rows are grouped by it) and as HTML: a link to the device's
// page while the ledger still says which device it was.
std::string device_heading(const texts& t, const control::ReportRow& row) {
  std::string name = row.device_id();
  if (row.device_erased() || name.empty()) name = std::string(t.erased_device);
  if (row.device_forgotten()) name = std::string(t.forgotten_device);
  if (!row.class_title().empty()) name += " · " + row.class_title();
  return name;
}

std::string device_heading_html(const texts& t, const control::ReportRow& row) {
  if (row.device_erased() || row.device_forgotten() || row.device_id().empty()) {
    return escape(device_heading(t, row));
  }
  std::string out = link(local_url("/device", {{"id", row.device_id()}}), row.device_id());
  if (!row.class_title().empty()) out += " · " + escape(row.class_title());
  return out;
}

std::string rows_section(const page_context& c, const control::ReportResult& r) {
  const texts& t = c.t;
  const language lang = c.lang();
  std::string out;
  std::string current;
  bool open = false;
  for (const auto& row : r.row()) {
    const std::string heading = device_heading(t, row);
    if (!open || heading != current) {
      if (open) out += "</tbody>\n</table>\n</div>\n";
      current = heading;
      open = true;
      out += "<h3>" + device_heading_html(t, row) +
             "</h3>\n<div class=\"table\">\n<table>\n<thead><tr>"
             "<th scope=\"col\">" +
             escape(t.col_purpose) + "</th><th scope=\"col\" class=\"num\">" +
             escape(t.col_messages) + "</th><th scope=\"col\" class=\"num\">" + escape(t.col_size) +
             "</th><th scope=\"col\">" + escape(t.col_fields) + "</th></tr></thead>\n<tbody>\n";
    }
    std::string fields;
    for (const auto& f : row.fields()) {
      if (!fields.empty()) fields += ", ";
      fields += f;
    }
    out += "<tr><th scope=\"row\">" + escape(row.title().empty() ? row.purpose_id() : row.title()) +
           "</th><td class=\"num\">" + escape(format_count(lang, row.messages())) +
           "</td><td class=\"num\">" + escape(format_bytes(lang, row.bytes())) + "</td><td>" +
           escape(fields) + "</td></tr>\n";
  }
  if (open) out += "</tbody>\n</table>\n</div>\n";
  return out;
}

std::string kept_section(const page_context& c, const control::ReportResult& r) {
  const texts& t = c.t;
  std::string out = "<section aria-labelledby=\"kept-h\">\n<h2 id=\"kept-h\">" +
                    escape(t.kept_heading) + "</h2>\n";
  if (r.dropped_size() == 0) return out + "<p>" + escape(t.kept_nothing) + "</p>\n</section>\n";
  out += "<p>" + escape(t.kept_intro) + "</p>\n<ul class=\"kept\">\n";
  for (const auto& d : r.dropped()) {
    out += "<li><span class=\"count\">" + escape(format_count(c.lang(), d.count())) + "</span> " +
           escape(drop_reason_text(c.lang(), d.reason())) + "</li>\n";
  }
  return out + "</ul>\n</section>\n";
}

app_response set_pause(const page_context& c, bool pause) {
  control::Request req;
  if (pause) {
    req.mutable_pause();
  } else {
    req.mutable_resume();
  }
  auto a = ask(c, req);
  if (!a.ok()) return *a.failure;
  return see_other("/");
}

}  // namespace

app_response home_page(const page_context& c) {
  const std::string key = c.param("span");
  const span_choice* span = &kSpans[0];
  for (const auto& s : kSpans) {
    if (s.key == key) span = &s;
  }

  control::Request preq;
  preq.mutable_purposes();
  auto purposes = ask(c, preq);
  if (!purposes.ok()) return *purposes.failure;

  control::Request rreq;
  rreq.mutable_report()->set_since_ms(
      std::max<std::int64_t>(1, c.request.now_ms - span->length_ms));
  rreq.mutable_report()->set_bucket_ms(span->bucket_ms);
  auto report = ask(c, rreq);
  if (!report.ok()) return *report.failure;
  const auto& p = purposes.response.purposes();
  const auto& r = report.response.report();
  const language lang = c.lang();

  std::string body = sharing_section(c, p.paused()) + suspended_section(c, p);
  body += "<section aria-labelledby=\"left-h\">\n<h2 id=\"left-h\">" +
          escape(span_name(c.t, span->key)) + "</h2>\n" + span_links(c, *span);
  body +=
      "<p class=\"summary\">" +
      escape(fill(c.t.summary, {format_time(lang, r.since_ms()), format_time(lang, r.until_ms()),
                                format_messages(lang, r.total_messages()),
                                format_bytes(lang, r.total_bytes())})) +
      "</p>\n";
  if (r.ledger_starts_ms() > r.since_ms()) {
    body += "<p class=\"note\">" +
            escape(fill(c.t.ledger_starts, {format_time(lang, r.ledger_starts_ms())})) + "</p>\n";
  }
  if (r.row_size() == 0) {
    body += "<p>" + escape(c.t.nothing_left) + "</p>\n";
  } else {
    body += chart_section(c, *span, r) + rows_section(c, r);
  }
  body += "</section>\n" + kept_section(c, r);
  return html(200, session_page(c, "/", c.t.nav_home, body));
}

app_response pause_action(const page_context& c) {
  return set_pause(c, true);
}

app_response resume_action(const page_context& c) {
  return set_pause(c, false);
}

}  // namespace portier::gateway::web
