// Numbers, sizes and times in the household's language ("1,234" / "1 234", "45.6 kB" /
// "45,6 ko", "5 minutes ago" / "il y a 5 minutes"). Pure: "now" is passed; times are shown in the
// box's local time zone. The results are plain text, to be escaped like any other.
#pragma once

#include <cstdint>
#include <string>

#include "gateway/web/app.h"

namespace portier::gateway::web {

// 1234567 → "1,234,567" (en) or "1 234 567" with no-break spaces (fr).
std::string format_count(language lang, std::uint64_t n);
// Powers of 1000: 340 → "340 B", 45600 → "45.6 kB" (en) / "45,6 ko" (fr).
std::string format_bytes(language lang, std::uint64_t n);
// Unix ms → "1 May 2024, 10:00" (en) / "1 mai 2024, 10:00" (fr), local time; 0 → "never".
std::string format_time(language lang, std::int64_t ms);
// Unix ms → "10:00" local time.
std::string format_clock(std::int64_t ms);
// Unix ms → "1 May" / "1 mai", local time.
std::string format_day(language lang, std::int64_t ms);
// "just now", "5 minutes ago", "3 hours ago", "2 days ago" (and French); 0 → "never".
std::string format_ago(language lang, std::int64_t then_ms, std::int64_t now_ms);
// Unix ms → "2024-05-01" (UTC), for file names.
std::string format_utc_date(std::int64_t ms);
// A privacy budget ε with at most two decimals and at least one: "0.6", "1.0" (en) / "0,6" (fr).
std::string format_epsilon(language lang, double epsilon);
// "3 messages", "1 message" / "3 messages" (fr), with the count formatted.
std::string format_messages(language lang, std::uint64_t n);

}  // namespace portier::gateway::web
