// The devices the gateway has seen: class, first and last seen, and the last message each sent
// (topic and payload exactly as received) so that a household can ask "what did this device say,
// and what left?" (`portierctl explain`). Kept in memory only, never logged or sent; bounded
// (the least recently seen device is forgotten first) and thread-safe: the ingress records, the
// control API reads.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace portier::gateway {

struct device_record {
  std::string device_id;
  std::string device_class;
  std::int64_t first_seen_ms = 0;
  std::int64_t last_seen_ms = 0;
  std::uint64_t messages = 0;
  std::string last_topic;
  std::string last_payload;  // truncated to kMaxPayload: explain then says so
  bool last_payload_truncated = false;
};

class device_registry {
 public:
  static constexpr std::size_t kMaxDevices = 4096;
  static constexpr std::size_t kMaxPayload = 64 * 1024;

  void record(std::string_view device_id, std::string_view device_class, std::string_view topic,
              std::string_view payload, std::int64_t now_ms);
  std::vector<device_record> list() const;  // most recently seen first
  std::optional<device_record> find(std::string_view device_id) const;
  // Forgets a device (erasure). True if it was known.
  bool forget(std::string_view device_id);

 private:
  mutable std::mutex mu_;
  std::list<device_record> order_;  // front: most recently seen
  std::unordered_map<std::string, std::list<device_record>::iterator> index_;
};

}  // namespace portier::gateway
