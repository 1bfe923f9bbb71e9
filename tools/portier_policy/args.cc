#include "tools/portier_policy/args.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <iostream>

namespace portier::tools {

namespace {
bool contains(std::initializer_list<const char*> names, const std::string& a) {
  return std::any_of(names.begin(), names.end(), [&](const char* n) { return a == n; });
}
}  // namespace

const std::vector<std::string>& parsed_args::all(const std::string& name) const {
  static const std::vector<std::string> none;
  auto it = values.find(name);
  return it == values.end() ? none : it->second;
}

std::optional<std::string> parsed_args::get(const std::string& name) const {
  const auto& v = all(name);
  if (v.empty()) return std::nullopt;
  return v.front();
}

int usage_error(std::string_view command, const std::string& message) {
  std::cerr << "portier-policy " << command << ": " << message << "\n";
  return 2;
}

std::optional<parsed_args> parse_args(std::string_view command,
                                      const std::vector<std::string>& args,
                                      std::initializer_list<const char*> single,
                                      std::initializer_list<const char*> repeated,
                                      std::initializer_list<const char*> switches) {
  parsed_args out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (contains(single, a) || contains(repeated, a)) {
      if (i + 1 >= args.size()) {
        usage_error(command, a + " needs a value");
        return std::nullopt;
      }
      auto& v = out.values[a];
      if (!v.empty() && contains(single, a)) {
        usage_error(command, a + " given twice");
        return std::nullopt;
      }
      v.push_back(args[++i]);
    } else if (contains(switches, a)) {
      out.switches.insert(a);
    } else if (a.rfind("--", 0) == 0 || a == "-h") {
      usage_error(command, "unknown option " + a + "; see `portier-policy help`");
      return std::nullopt;
    } else {
      out.positional.push_back(a);
    }
  }
  return out;
}

std::optional<std::uint64_t> parse_positive(std::string_view text) {
  if (text.empty() || text[0] == '0') return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<std::int64_t> parse_duration(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  std::int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      return std::nullopt;
  }
  auto n = parse_positive(text.substr(0, text.size() - 1));
  if (!n || *n > 3650ull * 86400ull / static_cast<std::uint64_t>(unit)) return std::nullopt;
  return static_cast<std::int64_t>(*n) * unit;
}

bool valid_topic_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

std::string iso_utc(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  char buf[32];
  if (::gmtime_r(&t, &tm) == nullptr ||
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return std::to_string(unix_seconds);
  }
  return buf;
}

}  // namespace portier::tools
