#include "gateway/web/pages/format.h"

#include "fake_daemon.h"

#include <CppUTest/TestHarness.h>

using namespace portier::gateway::web;
using portier::gateway::web::testing::kNowMs;

// tests/.../CMakeLists.txt runs the tests with TZ=UTC.
TEST_GROUP(format){};

TEST(format, counts_and_sizes_in_each_language) {
  STRCMP_EQUAL("1,234,567", format_count(language::en, 1234567).c_str());
  STRCMP_EQUAL("1\u00a0234\u00a0567", format_count(language::fr, 1234567).c_str());
  STRCMP_EQUAL("999", format_count(language::en, 999).c_str());
  STRCMP_EQUAL("340 B", format_bytes(language::en, 340).c_str());
  STRCMP_EQUAL("45.6 kB", format_bytes(language::en, 45600).c_str());
  STRCMP_EQUAL("45,6\u00a0ko", format_bytes(language::fr, 45600).c_str());
  STRCMP_EQUAL("1.0 MB", format_bytes(language::en, 999999).c_str());
  STRCMP_EQUAL("0.05", format_epsilon(language::en, 0.05).c_str());
  STRCMP_EQUAL("0.6", format_epsilon(language::en, 0.6).c_str());
  STRCMP_EQUAL("1,0", format_epsilon(language::fr, 1.0).c_str());
  STRCMP_EQUAL("1 message", format_messages(language::en, 1).c_str());
  STRCMP_EQUAL("1\u00a0234 messages", format_messages(language::fr, 1234).c_str());
}

TEST(format, times_and_ages_in_each_language) {
  STRCMP_EQUAL("5 Dec 2026, 12:00", format_time(language::en, kNowMs).c_str());
  STRCMP_EQUAL("5 déc. 2026, 12:00", format_time(language::fr, kNowMs).c_str());
  STRCMP_EQUAL("never", format_time(language::en, 0).c_str());
  STRCMP_EQUAL("just now", format_ago(language::en, kNowMs - 10'000, kNowMs).c_str());
  STRCMP_EQUAL("5 minutes ago", format_ago(language::en, kNowMs - 300'000, kNowMs).c_str());
  STRCMP_EQUAL("il y a 1 heure", format_ago(language::fr, kNowMs - 3'600'000, kNowMs).c_str());
  STRCMP_EQUAL("2 days ago", format_ago(language::en, kNowMs - 2 * 86'400'000, kNowMs).c_str());
  STRCMP_EQUAL("2026-12-05", format_utc_date(kNowMs).c_str());
}
