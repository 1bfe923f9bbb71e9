#include "policies/field_action.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace portier::policies {

namespace {

constexpr double kKmPerDegree = 111.32;
constexpr double kPi = 3.14159265358979323846;

bool parse_int64(std::string_view text, std::int64_t& out) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

std::int64_t floor_to(std::int64_t v, std::int64_t unit) {
  std::int64_t r = v % unit;
  if (r < 0) r += unit;
  return v - r;
}

std::int64_t unit_seconds(time_unit u) {
  switch (u) {
    case time_unit::minute: return 60;
    case time_unit::hour: return 3600;
    case time_unit::day: return 86400;
  }
  return 86400;
}

// The unit of an epoch time `v` (1 for seconds ... 10^9 for nanoseconds) if it lies in the
// plausible range in that unit, else 0.
std::int64_t epoch_scale(std::int64_t v, time_input input) {
  static constexpr std::int64_t kScales[] = {1, 1'000, 1'000'000, 1'000'000'000};
  for (std::size_t i = 0; i < std::size(kScales); ++i) {
    const bool declared =
        input == time_input::automatic || static_cast<std::size_t>(input) == i + 1;
    if (declared && v >= kEarliestTime * kScales[i] && v < kLatestTime * kScales[i])
      return kScales[i];
  }
  return 0;
}

time_result coarsen_epoch(const field_action& a, std::string_view number, std::string& out) {
  std::int64_t v = 0;
  if (!parse_int64(number, v)) {
    double d = 0;
    // Any JSON number is a number: too large, too small or out of int64 is no plausible time.
    if (!parse_number(number, d) || !(std::fabs(d) < 9e18)) {
      return number.find_first_not_of("+-0123456789.eE") == std::string_view::npos &&
                     !number.empty()
                 ? time_result::implausible
                 : time_result::not_a_time;
    }
    v = static_cast<std::int64_t>(std::floor(d));
  }
  const std::int64_t scale = epoch_scale(v, a.input);
  if (scale == 0) return time_result::implausible;
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, floor_to(v, unit_seconds(a.unit) * scale));
  out.assign(buf, r.ptr);
  return time_result::coarsened;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// ISO-8601 / RFC 3339: YYYY-MM-DD[(T| )HH:MM[:SS[.f+]]][Z|±HH[:]MM]
time_result coarsen_iso(const field_action& a, std::string_view s, std::string& out) {
  int year, month, day;
  if (!digits(s, 0, 4, year) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, month) || s[7] != '-' ||
      !digits(s, 8, 2, day) || month < 1 || month > 12 || day < 1 || day > 31) {
    return time_result::not_a_time;
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > kDays[month - 1] || (month == 2 && day == 29 && !leap))
    return time_result::not_a_time;  // 2024-02-31
  const bool plausible =
      year >= 2000 && year < 2100;  // kEarliestTime..kLatestTime, by the date written
  if (s.size() == 10) {  // a date: already as coarse as a day
    if (!plausible) return time_result::implausible;
    out.assign(s);
    return time_result::coarsened;
  }
  const char sep = s[10];
  int hour, minute, second = 0;
  if ((sep != 'T' && sep != 't' && sep != ' ') || !digits(s, 11, 2, hour) || s.size() < 16 || s[13] != ':' ||
      !digits(s, 14, 2, minute) || hour > 23 || minute > 59) {
    return time_result::not_a_time;
  }
  std::size_t pos = 16;
  if (pos < s.size() && s[pos] == ':') {
    if (!digits(s, pos + 1, 2, second) || second > 60) return time_result::not_a_time;
    pos += 3;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
      ++pos;
      const std::size_t start = pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
      if (pos == start) return time_result::not_a_time;
    }
  }
  const std::string_view zone = s.substr(pos);
  int zh = 0, zm = 0;
  const bool signed_zone = !zone.empty() && (zone[0] == '+' || zone[0] == '-');
  const bool zone_ok =
      zone.empty() || zone == "Z" || zone == "z" ||
      (signed_zone && zone.size() == 3 && digits(zone, 1, 2, zh)) ||  // +HH
      (signed_zone && zone.size() == 6 && digits(zone, 1, 2, zh) && zone[3] == ':' && digits(zone, 4, 2, zm)) ||
      (signed_zone && zone.size() == 5 && digits(zone, 1, 2, zh) && digits(zone, 3, 2, zm));
  if (!zone_ok || zh > 23 || zm > 59) return time_result::not_a_time;
  if (!plausible) return time_result::implausible;
  out.assign(s.substr(0, 11));  // "YYYY-MM-DDT"
  switch (a.unit) {
    case time_unit::day: out.append("00:00:00"); break;
    case time_unit::hour: out.append(s.substr(11, 2)).append(":00:00"); break;
    case time_unit::minute: out.append(s.substr(11, 5)).append(":00"); break;
  }
  out.append(zone);
  return time_result::coarsened;
}

// printf("%.*f")'s digits without a float-to-text conversion, for the usual case: v * 10^decimals
// below 1e15 is within 1/16 of the exact product, so unless it lies near a half (where the exact
// rounding decides) its nearest integer is printf's. Writes to buf and returns the length, or -1.
int small_fixed(char* buf, double v, int decimals) {
  static constexpr double kScale[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
  static constexpr std::uint64_t kDivisor[] = {1,         10,         100,         1000,         10000,
                                               100000,    1000000,    10000000,    100000000,    1000000000};
  if (decimals < 0 || decimals > 9) return -1;
  const double scaled = v * kScale[decimals];
  if (!(std::fabs(scaled) < 1e15) || std::fabs(scaled - std::floor(scaled) - 0.5) < 0.1) return -1;
  const auto n = static_cast<std::int64_t>(std::floor(scaled + 0.5));
  const std::uint64_t u = n < 0 ? static_cast<std::uint64_t>(-n) : static_cast<std::uint64_t>(n);
  char* p = buf;
  if (n < 0) *p++ = '-';
  p = std::to_chars(p, buf + 32, u / kDivisor[decimals]).ptr;
  if (decimals > 0) {
    *p = '.';
    std::uint64_t fraction = u % kDivisor[decimals];
    for (int i = decimals; i > 0; --i, fraction /= 10) p[i] = static_cast<char>('0' + fraction % 10);
    p += decimals + 1;
  }
  return static_cast<int>(p - buf);
}

}  // namespace

bool parse_number(std::string_view text, double& out) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && std::isfinite(out);
}

void append_fixed(std::string& out, double v, int decimals) {
  char buf[64];
  // The same text as printf("%.*f") (C locale): small_fixed for the usual values, else
  // std::to_chars, both several times faster than printf.
  int n = small_fixed(buf, v, decimals);
  if (n < 0) {
    const auto fixed = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
    n = fixed.ec == std::errc() ? static_cast<int>(fixed.ptr - buf) : -1;
  }
  if (n <= 0 || n >= static_cast<int>(sizeof buf)) {
    n = std::snprintf(buf, sizeof buf, "%.17g", v);  // huge magnitudes: still a valid number
  }
  std::string_view s(buf, static_cast<std::size_t>(n));
  if (s.front() == '-' && s.find_first_not_of("-0.") == std::string_view::npos) s.remove_prefix(1);
  out.append(s);
}

int decimals_for_step(double step) {
  for (int d = 0; d < 9; ++d) {
    const double scaled = step * std::pow(10.0, d);
    // A step below 1 is no whole number of units yet, however close to 0 it is.
    const bool whole = std::fabs(scaled - std::round(scaled)) < 1e-9 * std::max(1.0, scaled);
    if (scaled >= 0.5 && whole) return d;
  }
  return 9;
}

bool apply_round(const field_action& a, std::string_view number, std::string& out) {
  double v = 0;
  if (!parse_number(number, v)) return false;
  const double r = std::round(v / a.step) * a.step;
  if (!std::isfinite(r)) return false;
  out.clear();
  append_fixed(out, r, a.decimals);
  return true;
}

bool apply_bucket(const field_action& a, std::string_view number, const std::string** label) {
  double v = 0;
  if (!parse_number(number, v)) return false;
  std::size_t i = 0;
  while (i < a.bounds.size() && v >= a.bounds[i]) ++i;
  *label = &a.labels[i];
  return true;
}

bool keep_fits(const field_action& a, value_type type, std::string_view value) {
  if (a.type && *a.type != type) return false;
  if (a.length == 0 || value.size() <= a.length) return true;  // never more characters than bytes
  if (type != value_type::string) return type != value_type::number;  // a number's text is ASCII
  return truncate_utf8(value, a.length).size() == value.size();
}

time_result apply_coarsen_time(const field_action& a, value_type type, std::string_view value,
                               std::string& out, bool& out_is_number) {
  out_is_number = type == value_type::number;
  if (type == value_type::number) {
    return a.input == time_input::iso8601 ? time_result::not_a_time : coarsen_epoch(a, value, out);
  }
  if (type == value_type::string &&
      (a.input == time_input::iso8601 || a.input == time_input::automatic)) {
    return coarsen_iso(a, value, out);
  }
  return time_result::not_a_time;
}

std::string_view truncate_utf8(std::string_view text, std::uint32_t length) {
  std::size_t i = 0;
  for (std::uint32_t n = 0; n < length && i < text.size(); ++n) {
    ++i;
    while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
  }
  return text.substr(0, i);
}

bool generalise_location(double cell_km, double lat, double lon, double& cell_lat, double& cell_lon) {
  if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)) return false;
  const double dlat = cell_km / kKmPerDegree;
  const double lat_index = std::floor((lat + 90) / dlat);
  cell_lat = std::min(90.0, -90 + (lat_index + 0.5) * dlat);
  const double cos_lat = std::cos(cell_lat * kPi / 180);
  const double dlon = cos_lat < 1e-6 ? 360.0 : std::min(360.0, cell_km / (kKmPerDegree * cos_lat));
  const double lon_index = std::floor((lon + 180) / dlon);
  cell_lon = std::min(180.0, -180 + (lon_index + 0.5) * dlon);
  return true;
}

std::string_view aggregate_fn_name(aggregate_fn f) {
  switch (f) {
    case aggregate_fn::mean: return "mean";
    case aggregate_fn::min: return "min";
    case aggregate_fn::max: return "max";
    case aggregate_fn::sum: return "sum";
    case aggregate_fn::count: return "count";
    case aggregate_fn::last: return "last";
    case aggregate_fn::delta: return "delta";
  }
  return "?";
}

}  // namespace portier::policies
