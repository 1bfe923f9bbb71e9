// portierctl's words: each control result as short, plain text for a household, and as JSON for
// scripts. Pure functions of the result (and of "now" and the local time zone, passed or read
// explicitly), so tests can pin every line.
//
// Everything a device or the operator chose (device ids, topics, payloads, titles) passes through
// safe_text() before it reaches the terminal: a device named "\e]0;…" must not drive it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "control.pb.h"

namespace portier::tools::ctl {

// `s` with control characters (C0, DEL, C1), invalid UTF-8 and bidirectional overrides written as
// visible escapes (\n, \t, \x1b, \u202e).
std::string safe_text(std::string_view s);

// 1234567 → "1,234,567".
std::string group_digits(std::uint64_t n);
// 340 → "340 B", 45600 → "45.6 kB", 1200000 → "1.2 MB" (powers of 1000).
std::string human_bytes(std::uint64_t n);
// Unix ms → "2024-05-01 10:00" (with `seconds`, "2024-05-01 10:00:03") in the local time zone;
// 0 → "never".
std::string format_time(std::int64_t ms, bool seconds = false);
// "just now", "5 minutes ago", "3 hours ago", "2 days ago"; 0 → "never".
std::string format_ago(std::int64_t then_ms, std::int64_t now_ms);
// 273600 → "3 days 4 hours"; 75 → "1 minute".
std::string format_span(std::uint64_t seconds);
// A privacy budget ε with at most two decimals and at least one: "0.6", "1.0", "0.05".
std::string format_epsilon(double epsilon);
// "30m", "24h", "7d", "2w" → milliseconds; nullopt for anything else (or over 100 years).
std::optional<std::int64_t> parse_duration_ms(std::string_view text);

// Plain words for a drop reason name ("consent_refused" → "not granted by you").
std::string drop_reason_text(std::string_view reason);

std::string format_status(const control::StatusResult& r);
std::string format_devices(const control::DevicesResult& r, std::int64_t now_ms);
std::string format_purposes(const control::PurposesResult& r);
std::string format_set_consent(const control::SetConsentResult& r);
std::string format_pause(const control::PauseResult& r);
std::string format_report(const control::ReportResult& r);
std::string format_explain(const control::ExplainResult& r);
// `file` is where portierctl wrote the document.
std::string format_export(const control::ExportResult& r, const std::string& file);
std::string format_erase(const control::EraseResult& r);
std::string format_verify_ledger(const control::VerifyLedgerResult& r);
// `cleared`: the answer to `unmatched --clear`.
std::string format_unmatched(const control::UnmatchedResult& r, bool cleared);
std::string format_pair(const control::PairResult& r);
// Policy updates, newest first; a change that lets more leave is flagged "WIDENS" / "MORE".
std::string format_updates(const control::PolicyHistoryResult& r);

// Indented JSON with the proto field names and every field, zero or not; ends with a newline.
std::string to_json(const google::protobuf::Message& m);

}  // namespace portier::tools::ctl
