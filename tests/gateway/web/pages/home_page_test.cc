// GET / ("What left my home"), POST /pause, POST /resume.
#include "fake_daemon.h"
#include "gateway/web/app.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
using namespace portier::gateway::web;
using namespace portier::gateway::web::testing;

TEST_GROUP(home_page) {
  fake_daemon daemon;
  void setup() override {
    daemon.fill_household();
  }
};

TEST(home_page, asks_for_the_chosen_span_with_buckets) {
  (void)handle_app(get("/"), daemon.call());
  auto report = daemon.requests.back().report();
  CHECK_EQUAL(kNowMs - 86'400'000, report.since_ms());
  CHECK_EQUAL(3'600'000, report.bucket_ms());
  (void)handle_app(get("/?span=week"), daemon.call());
  report = daemon.requests.back().report();
  CHECK_EQUAL(kNowMs - 7 * 86'400'000LL, report.since_ms());
  CHECK_EQUAL(6 * 3'600'000, report.bucket_ms());
  (void)handle_app(get("/?span=month"), daemon.call());
  report = daemon.requests.back().report();
  CHECK_EQUAL(kNowMs - 30 * 86'400'000LL, report.since_ms());
  CHECK_EQUAL(86'400'000, report.bucket_ms());
  (void)handle_app(get("/?span=<bogus>"), daemon.call());
  CHECK_EQUAL(kNowMs - 86'400'000, daemon.requests.back().report().since_ms());
}

TEST(home_page, shows_per_device_and_purpose_what_left_with_totals) {
  const auto r = handle_app(get("/"), daemon.call());
  CHECK_EQUAL(200, r.status);
  CHECK(r.body.find("<h3><a href=\"/device?id=Anna%20bedroom\">Anna bedroom</a> · Zigbee "
                    "sensor</h3>") != std::string::npos);
  CHECK(r.body.find("<h3>An erased device · Zigbee sensor</h3>") != std::string::npos);
  CHECK(r.body.find("<td class=\"num\">1,234</td><td class=\"num\">45.6 kB</td><td>humidity, "
                    "temperature</td>") != std::string::npos);
  CHECK(r.body.find("1,258 messages, 46.3 kB") != std::string::npos);
  CHECK(r.body.find("3,000</span> you have not allowed it") != std::string::npos);
  CHECK(r.body.find("The record only goes back to") != std::string::npos);
  CHECK(r.body.find("aria-current=\"page\">Last day</a>") != std::string::npos);
}

TEST(home_page, a_hostile_device_name_is_shown_as_text) {
  const auto r = handle_app(get("/"), daemon.call());
  CHECK(r.body.find(">&lt;script&gt;alert(1)&lt;/script&gt;</a> · Zigbee sensor") !=
        std::string::npos);
  CHECK(r.body.find("<script") == std::string::npos);
}

TEST(home_page, the_chart_has_a_bar_per_bucket_and_a_text_alternative) {
  const auto r = handle_app(get("/"), daemon.call());
  CHECK_EQUAL(1, occurrences(r.body, "<svg"));
  CHECK_EQUAL(24, occurrences(r.body, "<rect class=\"bar\""));
  CHECK(r.body.find("role=\"img\"") != std::string::npos);
  CHECK(r.body.find("<title id=\"chart-title\">Messages that left your home, per hour</title>") !=
        std::string::npos);
  // Both rows have 20 at hour 14 (from 12:00 the day before: 02:00) and 1 at hour 3 (15:00).
  CHECK(r.body.find("<title>02:00: 40 messages</title>") != std::string::npos);
  CHECK(r.body.find("<title>15:00: 2 messages</title>") != std::string::npos);
  CHECK(r.body.find("aria-label=\"Messages that left your home, per hour. 1,258 messages in total, "
                    "from 12:00 to 11:00; the most at once: 40 messages (02:00).\"") !=
        std::string::npos);
  // The tallest bar fills the plot; an empty bucket has no height.
  CHECK(r.body.find("y=\"26.0\" width=\"15.7\" height=\"142.0\"><title>02:00") !=
        std::string::npos);
  CHECK(r.body.find("height=\"0.0\"><title>12:00: 0 messages") != std::string::npos);
}

TEST(home_page, nothing_left_means_no_chart_and_says_so) {
  daemon.answer(control::Request::kReport,
                "report { since_ms: 1796385600000 until_ms: 1796472000000 bucket_ms: 3600000 "
                "buckets: 24 }");
  const auto r = handle_app(get("/"), daemon.call());
  CHECK(r.body.find("Nothing left your home in this period.") != std::string::npos);
  CHECK(r.body.find("<svg") == std::string::npos);
  CHECK(r.body.find("Nothing was held back") != std::string::npos);
}

TEST(home_page, the_big_button_pauses_or_resumes_as_the_state_requires) {
  auto r = handle_app(get("/"), daemon.call());
  CHECK(r.body.find("Sharing is on") != std::string::npos);
  CHECK(r.body.find("action=\"/pause\"") != std::string::npos);
  CHECK(r.body.find("class=\"big pause\">Pause all sharing</button>") != std::string::npos);
  CHECK(r.body.find("action=\"/resume\"") == std::string::npos);

  daemon.answer(control::Request::kPurposes, "purposes { paused: true }");
  r = handle_app(get("/"), daemon.call());
  CHECK(r.body.find("Sharing is paused: nothing leaves your home.") != std::string::npos);
  CHECK(r.body.find("action=\"/resume\"") != std::string::npos);
  CHECK(r.body.find(">Resume sharing</button>") != std::string::npos);
}

TEST(home_page, suspended_purposes_are_listed) {
  const auto r = handle_app(get("/"), daemon.call());
  CHECK(r.body.find("<h2 id=\"suspended-h\">Stopped by the operator</h2>") != std::string::npos);
  CHECK(r.body.find("<li>Location</li>") != std::string::npos);
}

TEST(home_page, pause_and_resume_act_then_send_back_home) {
  auto r = handle_app(post("/pause"), daemon.call());
  CHECK_EQUAL(303, r.status);
  STRCMP_EQUAL("/", r.location.c_str());
  CHECK_EQUAL(1, daemon.count(control::Request::kPause));
  r = handle_app(post("/resume"), daemon.call());
  CHECK_EQUAL(303, r.status);
  CHECK_EQUAL(1, daemon.count(control::Request::kResume));
  daemon.answer(control::Request::kPause, "code: UNAVAILABLE message: \"shutting down\"");
  r = handle_app(post("/pause"), daemon.call());
  CHECK_EQUAL(503, r.status);
  CHECK(r.location.empty());
  CHECK(r.body.find("shutting down") != std::string::npos);
}
