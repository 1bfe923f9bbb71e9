// The logger: one line per event to stderr (and syslog when asked), with a level. Never pass a
// payload value or anything a device said: log counts, reasons, topics filters and field names.
// Thread-safe; lines are written whole.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace portier::platform {

enum class log_level { debug = 0, info = 1, warning = 2, error = 3 };

// Call once at start-up, before threads. Until then: info and up to stderr.
void log_init(log_level min_level, bool use_syslog, std::string_view ident);
bool log_enabled(log_level level);
void log_line(log_level level, std::string_view line);

template <typename... Parts>
void log(log_level level, const Parts&... parts) {
  if (!log_enabled(level)) return;
  std::ostringstream s;
  (s << ... << parts);
  log_line(level, s.str());
}

template <typename... Parts> void log_debug(const Parts&... p) { log(log_level::debug, p...); }
template <typename... Parts> void log_info(const Parts&... p) { log(log_level::info, p...); }
template <typename... Parts> void log_warning(const Parts&... p) { log(log_level::warning, p...); }
template <typename... Parts> void log_error(const Parts&... p) { log(log_level::error, p...); }

}  // namespace portier::platform
