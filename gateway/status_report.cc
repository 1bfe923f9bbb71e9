#include "gateway/status_report.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace portier::gateway {

namespace {
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void key_string(json_writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}
}  // namespace

std::string status_topic(const std::string& gateway_id) { return "portier/" + gateway_id + "/status"; }

std::string offline_status(const std::string& gateway_id) {
  return "{\"gateway\":\"" + gateway_id + "\",\"state\":\"offline\",\"version\":\"" + kPortierVersion + "\"}";
}

std::string online_status(const std::string& gateway_id,
                          std::chrono::steady_clock::time_point started, const counters& c,
                          const pipeline& p, const spool& s, bool paused, const std::string& update,
                          std::uint64_t unmatched_shapes, std::uint64_t windows_open) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  key_string(w, "gateway", gateway_id);
  key_string(w, "state", "online");
  w.Key("paused");
  w.Bool(paused);
  key_string(w, "version", kPortierVersion);
  w.Key("policy");
  w.StartObject();
  key_string(w, "name", p.policy_name());
  w.Key("version");
  w.Uint64(p.policy_version());
  w.EndObject();
  w.Key("uptime_s");
  w.Uint64(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count()));
  w.Key("counters");
  w.StartObject();
#define PORTIER_WRITE_COUNTER(name, help) \
  w.Key(#name);                           \
  w.Uint64(c.name.load());
  PORTIER_GATEWAY_COUNTERS(PORTIER_WRITE_COUNTER)
#undef PORTIER_WRITE_COUNTER
  w.Key("spool_pending");
  w.Uint64(s.pending());
  w.Key("spool_bytes");
  w.Uint64(s.bytes());
  w.Key("inflight");
  w.Uint64(s.inflight());
  w.Key("unmatched_shapes");
  w.Uint64(unmatched_shapes);
  w.Key("windows_open");
  w.Uint64(windows_open);
  w.Key("released_by_purpose");
  w.StartObject();
  for (const auto& [purpose, n] : c.released_by_purpose()) {
    w.Key(purpose.c_str(), static_cast<rapidjson::SizeType>(purpose.size()));
    w.Uint64(n);
  }
  w.EndObject();
  // Differential privacy: ε spent by window releases since start, per purpose, in millionths.
  w.Key("epsilon_micro_by_purpose");
  w.StartObject();
  for (const auto& [purpose, n] : c.epsilon_micro_by_purpose()) {
    w.Key(purpose.c_str(), static_cast<rapidjson::SizeType>(purpose.size()));
    w.Uint64(n);
  }
  w.EndObject();
  w.Key("dropped_by_reason");
  w.StartObject();
  for (std::size_t i = 0; i < policies::kDropReasonCount; ++i) {
    const auto n = c.drops[i].load();
    if (n == 0) continue;
    const auto name = policies::drop_reason_name(static_cast<policies::drop_reason>(i));
    w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    w.Uint64(n);
  }
  w.EndObject();
  w.EndObject();
  if (!update.empty()) {
    w.Key("policy_update");
    w.RawValue(update.c_str(), update.size(), rapidjson::kObjectType);
  }
  w.EndObject();
  return buf.GetString();
}

}  // namespace portier::gateway
