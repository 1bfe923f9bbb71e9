#include "gateway/web/pages/format.h"

#include <array>
#include <cstdio>
#include <ctime>

namespace portier::gateway::web {

namespace {

constexpr std::array<const char*, 12> months_en = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<const char*, 12> months_fr = {"janv.", "févr.", "mars",  "avr.",
                                                   "mai",   "juin",  "juil.", "août",
                                                   "sept.", "oct.",  "nov.",  "déc."};

bool local_tm(std::int64_t ms, std::tm& tm) {
  // Floor division, so that times before 1970 still land on the right second.
  const std::time_t t = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  return localtime_r(&t, &tm) != nullptr;
}

std::string unit_count(language lang, std::uint64_t n, const char* one, const char* many) {
  return format_count(lang, n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string format_count(language lang, std::uint64_t n) {
  const std::string digits = std::to_string(n);
  const std::string sep = lang == language::fr ? "\u00a0" : ",";
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += sep;
    out += digits[i];
  }
  return out;
}

std::string format_bytes(language lang, std::uint64_t n) {
  const bool fr = lang == language::fr;
  if (n < 1000) return format_count(lang, n) + (fr ? "\u00a0o" : " B");
  static constexpr std::array<const char*, 5> en = {"kB", "MB", "GB", "TB", "PB"};
  static constexpr std::array<const char*, 5> fr_units = {"ko", "Mo", "Go", "To", "Po"};
  double v = static_cast<double>(n);
  std::size_t unit = 0;
  v /= 1000.0;
  while (v >= 999.95 && unit + 1 < en.size()) {
    v /= 1000.0;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  std::string number = buf;
  if (fr) {
    for (char& c : number) {
      if (c == '.') c = ',';
    }
  }
  return number + (fr ? "\u00a0" : " ") + (fr ? fr_units[unit] : en[unit]);
}

std::string format_time(language lang, std::int64_t ms) {
  if (ms == 0) return lang == language::fr ? "jamais" : "never";
  std::tm tm{};
  if (!local_tm(ms, tm)) return "?";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%d %s %d, %02d:%02d", tm.tm_mday,
                (lang == language::fr ? months_fr : months_en)[static_cast<std::size_t>(tm.tm_mon)],
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
  return buf;
}

std::string format_clock(std::int64_t ms) {
  std::tm tm{};
  if (!local_tm(ms, tm)) return "?";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d", tm.tm_hour, tm.tm_min);
  return buf;
}

std::string format_day(language lang, std::int64_t ms) {
  std::tm tm{};
  if (!local_tm(ms, tm)) return "?";
  return std::to_string(tm.tm_mday) + " " +
         (lang == language::fr ? months_fr : months_en)[static_cast<std::size_t>(tm.tm_mon)];
}

std::string format_ago(language lang, std::int64_t then_ms, std::int64_t now_ms) {
  const bool fr = lang == language::fr;
  if (then_ms == 0) return fr ? "jamais" : "never";
  const std::int64_t s = (now_ms - then_ms) / 1000;
  if (s < 60) return fr ? "à l’instant" : "just now";
  std::string amount;
  if (s < 3600) {
    const auto m = static_cast<std::uint64_t>(s / 60);
    amount = unit_count(lang, m, "minute", "minutes");
  } else if (s < 86400) {
    const auto h = static_cast<std::uint64_t>(s / 3600);
    amount = fr ? unit_count(lang, h, "heure", "heures") : unit_count(lang, h, "hour", "hours");
  } else {
    const auto d = static_cast<std::uint64_t>(s / 86400);
    amount = fr ? unit_count(lang, d, "jour", "jours") : unit_count(lang, d, "day", "days");
  }
  return fr ? "il y a " + amount : amount + " ago";
}

std::string format_utc_date(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "unknown-date";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

std::string format_epsilon(language lang, double epsilon) {
  if (!(epsilon >= 0) || epsilon > 1e9) return "?";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", epsilon);
  std::string s = buf;
  if (s.back() == '0') s.pop_back();
  if (lang == language::fr) s[s.find('.')] = ',';
  return s;
}

std::string format_messages(language lang, std::uint64_t n) {
  return unit_count(lang, n, "message", "messages");
}

}  // namespace portier::gateway::web
