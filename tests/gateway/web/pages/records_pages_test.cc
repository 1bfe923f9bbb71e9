// GET /receipts, GET and POST /export, GET /updates.
#include "fake_daemon.h"
#include "gateway/web/app.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
using namespace portier::gateway::web;
using namespace portier::gateway::web::testing;

TEST_GROUP(records_pages) {
  fake_daemon daemon;
  void setup() override {
    daemon.fill_household();
  }
};

TEST(records_pages, receipts_newest_first_in_plain_words) {
  const auto r = handle_app(get("/receipts"), daemon.call());
  CHECK_EQUAL(200, r.status);
  const auto newest = r.body.find(
      "<td>Refused</td><td>Analytics</td><td>&lt;b&gt;Bob&lt;/b&gt;"
      "</td><td>on this page</td><td>defaults, version 7</td><td><code>"
      "bbbbbbbb</code>");
  const auto oldest = r.body.find(
      "<td>Allowed</td><td>Analytics</td><td>the whole home</td><td>"
      "with portierctl</td>");
  CHECK(newest != std::string::npos);
  CHECK(oldest != std::string::npos);
  CHECK(newest < oldest);
  CHECK(r.body.find("<b>") == std::string::npos);
}

TEST(records_pages, only_the_newest_receipts_are_shown_and_the_ledger_is_not_mistaken_for_them) {
  // A ledger entry with its own "receipts" key, then 502 receipts.
  std::string json = "{\"ledger\":[{\"receipts\":[{\"decision\":\"granted\"}]}],\"receipts\":[";
  for (int i = 0; i < 502; ++i) {
    json += std::string(i ? "," : "") + "{\"id\":\"" + std::to_string(1000 + i) +
            "\",\"time_ms\":" + std::to_string(1796300000000 + i) +
            ",\"scope\":\"household\",\"decision\":\"paused\",\"method\":\"web\"}";
  }
  json += "]}";
  control::Response answer;
  answer.mutable_export_ledger()->set_json(json);
  daemon.answers[control::Request::kExportLedger] = answer;
  const auto r = handle_app(get("/receipts"), daemon.call());
  CHECK_EQUAL(200, r.status);
  CHECK_EQUAL(500, occurrences(r.body, "<td>Paused all sharing</td>"));
  CHECK_EQUAL(0, occurrences(r.body, "<td>Allowed</td>"));
  CHECK(r.body.find("<code>1501</code>") < r.body.find("<code>1002</code>"));
  CHECK(r.body.find("<code>1001</code>") == std::string::npos);
  CHECK(r.body.find("2 older receipts are not shown here") != std::string::npos);
}

TEST(records_pages, receipts_that_cannot_be_read_are_a_502_page) {
  daemon.answer(control::Request::kExportLedger, "export_ledger { json: \"{not json\" }");
  auto r = handle_app(get("/receipts"), daemon.call());
  CHECK_EQUAL(502, r.status);
  daemon.answer(control::Request::kExportLedger, "export_ledger { json: \"[]\" }");
  r = handle_app(get("/receipts"), daemon.call());
  CHECK_EQUAL(502, r.status);
}

TEST(records_pages, no_receipt_yet_is_said) {
  daemon.answer(control::Request::kExportLedger,
                "export_ledger { json: \"{\\\"ledger\\\":[],\\\"receipts\\\":[]}\" }");
  const auto r = handle_app(get("/receipts", language::fr), daemon.call());
  CHECK(r.body.find("Aucun reçu pour l’instant.") != std::string::npos);
}

TEST(records_pages, export_page_offers_a_download_form) {
  const auto r = handle_app(get("/export"), daemon.call());
  CHECK_EQUAL(200, r.status);
  CHECK(r.body.find("action=\"/export\"") != std::string::npos);
  CHECK(r.body.find(">Download my data</button>") != std::string::npos);
  CHECK(daemon.requests.empty());
}

TEST(records_pages, export_downloads_the_document_with_a_dated_name) {
  const auto r = handle_app(post("/export"), daemon.call());
  CHECK_EQUAL(200, r.status);
  STRCMP_EQUAL("portier-export-2026-12-05.json", r.download_filename.c_str());
  STRCMP_EQUAL("application/json", r.content_type.c_str());
  STRCMP_EQUAL(daemon.answers[control::Request::kExportLedger].export_ledger().json().c_str(),
               r.body.c_str());
  CHECK(r.location.empty());
}

TEST(records_pages, export_failure_is_a_page_not_a_file) {
  daemon.answer(control::Request::kExportLedger, "code: UNAVAILABLE message: \"ledger not open\"");
  const auto r = handle_app(post("/export"), daemon.call());
  CHECK_EQUAL(503, r.status);
  CHECK(r.download_filename.empty());
  STRCMP_EQUAL("text/html; charset=utf-8", r.content_type.c_str());
}

TEST(records_pages, updates_flag_the_ones_that_widen_what_leaves) {
  const auto r = handle_app(get("/updates"), daemon.call());
  CHECK_EQUAL(200, r.status);
  CHECK_EQUAL(50u, daemon.requests.back().policy_history().limit());
  CHECK_EQUAL(1, occurrences(r.body, "More leaves your home since this update."));
  CHECK(r.body.find("<li class=\"update widens\">\n<h2>defaults, version 7</h2>") !=
        std::string::npos);
  CHECK(r.body.find("<li class=\"change widens\"><p><strong>Analytics, from Zigbee sensor</strong> "
                    "<span class=\"flag\">more leaves</span>") != std::string::npos);
  CHECK(r.body.find("<dt>Before</dt><dd><ul><li>temperature rounded to 1 °C</li></ul></dd><dt>After"
                    "</dt><dd><ul><li>temperature rounded to 0.5 °C</li></ul></dd>") !=
        std::string::npos);
  // A narrowing change is listed but not flagged.
  CHECK(r.body.find("<li class=\"change\"><p><strong>Service, from Zigbee sensor</strong></p>") !=
        std::string::npos);
  CHECK(r.body.find("<dt>After</dt><dd><em>nothing</em></dd>") != std::string::npos);
  CHECK(r.body.find("Refused: the running policy stayed (its signature is not valid).") !=
        std::string::npos);
  CHECK(r.body.find("It changed nothing in what leaves.") != std::string::npos);
  CHECK(r.body.find("<h2>A policy, version 13</h2>") != std::string::npos);
}

TEST(records_pages, updates_in_french) {
  const auto r = handle_app(get("/updates", language::fr), daemon.call());
  CHECK(r.body.find("Davantage sort de chez vous depuis cette mise à jour.") != std::string::npos);
  CHECK(r.body.find(
            "Refusée : la politique en vigueur est restée (sa signature n’est pas valide).") !=
        std::string::npos);
}
