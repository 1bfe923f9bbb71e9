#include "platform/log.h"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace portier::platform {

namespace {

std::atomic<int> g_min_level{static_cast<int>(log_level::info)};
std::atomic<bool> g_syslog{false};
std::mutex g_mutex;
std::string g_ident = "portier";

const char* level_name(log_level l) {
  switch (l) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warning: return "warning";
    case log_level::error: return "error";
  }
  return "info";
}

int syslog_priority(log_level l) {
  switch (l) {
    case log_level::debug: return LOG_DEBUG;
    case log_level::info: return LOG_INFO;
    case log_level::warning: return LOG_WARNING;
    case log_level::error: return LOG_ERR;
  }
  return LOG_INFO;
}

}  // namespace

void log_init(log_level min_level, bool use_syslog, std::string_view ident) {
  std::lock_guard lock(g_mutex);
  g_min_level = static_cast<int>(min_level);
  g_ident = std::string(ident);
  if (use_syslog && !g_syslog) ::openlog(g_ident.c_str(), LOG_PID, LOG_DAEMON);
  g_syslog = use_syslog;
}

bool log_enabled(log_level level) { return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed); }

void log_line(log_level level, std::string_view line) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::lock_guard lock(g_mutex);
  std::fprintf(stderr, "%s.%03dZ %s[%d] %s: %.*s\n", stamp, static_cast<int>(ms), g_ident.c_str(),
               static_cast<int>(::getpid()), level_name(level), static_cast<int>(line.size()), line.data());
  std::fflush(stderr);
  if (g_syslog) ::syslog(syslog_priority(level), "%.*s", static_cast<int>(line.size()), line.data());
}

}  // namespace portier::platform
