#include "gateway/device_registry.h"

namespace portier::gateway {

void device_registry::record(std::string_view device_id, std::string_view device_class, std::string_view topic,
                             std::string_view payload, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = index_.find(std::string(device_id));
  if (it == index_.end()) {
    if (order_.size() >= kMaxDevices) {
      index_.erase(order_.back().device_id);
      order_.pop_back();
    }
    device_record r;
    r.device_id = std::string(device_id);
    r.first_seen_ms = now_ms;
    order_.push_front(std::move(r));
    it = index_.emplace(order_.front().device_id, order_.begin()).first;
  } else if (it->second != order_.begin()) {
    order_.splice(order_.begin(), order_, it->second);
  }
  device_record& r = *it->second;
  r.device_class.assign(device_class);
  r.last_seen_ms = now_ms;
  ++r.messages;
  r.last_topic.assign(topic);
  r.last_payload_truncated = payload.size() > kMaxPayload;
  r.last_payload.assign(payload.substr(0, kMaxPayload));
}

std::vector<device_record> device_registry::list() const {
  std::lock_guard lock(mu_);
  return {order_.begin(), order_.end()};
}

std::optional<device_record> device_registry::find(std::string_view device_id) const {
  std::lock_guard lock(mu_);
  auto it = index_.find(std::string(device_id));
  if (it == index_.end()) return std::nullopt;
  return *it->second;
}

bool device_registry::forget(std::string_view device_id) {
  std::lock_guard lock(mu_);
  auto it = index_.find(std::string(device_id));
  if (it == index_.end()) return false;
  order_.erase(it->second);
  index_.erase(it);
  return true;
}

}  // namespace portier::gateway
