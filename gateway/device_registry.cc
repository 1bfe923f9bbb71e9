#include "gateway/device_registry.h"

#include <algorithm>

namespace portier::gateway {

device_registry::device_registry(device_registry_options options)
    : options_(options), devices_(options.max_devices, kEstablishAfterMs) {
  tokens_ = options_.max_new_per_minute;
}

void device_registry::refill_locked(std::int64_t now_ms) {
  // A clock stepped back refills nothing; one stepped forward refills at most a full bucket.
  if (refilled_at_ms_ == 0 || now_ms < refilled_at_ms_) {
    refilled_at_ms_ = now_ms;
    return;
  }
  const double per_ms = options_.max_new_per_minute / 60'000.0;
  tokens_ = std::min<double>(options_.max_new_per_minute,
                             tokens_ + static_cast<double>(now_ms - refilled_at_ms_) * per_ms);
  refilled_at_ms_ = now_ms;
}

device_registry::table::entry& device_registry::insert_locked(std::string_view device_id,
                                                              std::string_view device_class,
                                                              std::int64_t now_ms) {
  state st;
  st.device_class = std::string(device_class);
  return devices_.insert(std::string(device_id), std::move(st), now_ms,
                         [this](table::entry&& gone) {
                           payload_bytes_ -= gone.value.last_payload.size();
                           ++evicted_;
                           if (options_.evicted_counter != nullptr) ++*options_.evicted_counter;
                         });
}

bool device_registry::admit(std::string_view device_id, std::string_view device_class,
                            std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (devices_.find(device_id) != nullptr) return true;
  refill_locked(now_ms);
  if (tokens_ < 1.0) {
    ++churned_;
    return false;
  }
  tokens_ -= 1.0;
  insert_locked(device_id, device_class, now_ms);
  return true;
}

void device_registry::trim_payloads_locked() {
  devices_.for_each_eviction_order([this](table::entry& e) {
    if (payload_bytes_ <= options_.max_payload_bytes || e.value.last_payload.empty()) return;
    payload_bytes_ -= e.value.last_payload.size();
    e.value.last_payload = std::string();  // frees the buffer
    e.value.last_payload_truncated = true;
  });
}

void device_registry::record(std::string_view device_id, std::string_view device_class, std::string_view topic,
                             std::string_view payload, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  table::entry* e = devices_.touch(device_id, now_ms);
  if (e == nullptr) e = &insert_locked(device_id, device_class, now_ms);
  state& s = e->value;
  s.device_class.assign(device_class);
  ++s.messages;
  s.last_topic.assign(topic);
  payload_bytes_ -= s.last_payload.size();
  s.last_payload_truncated = payload.size() > kMaxPayload;
  s.last_payload.assign(payload.substr(0, kMaxPayload));
  payload_bytes_ += s.last_payload.size();
  if (payload_bytes_ > options_.max_payload_bytes) trim_payloads_locked();
}

device_record device_registry::to_record(const table::entry& e) {
  device_record r;
  r.device_id = e.key;
  r.device_class = e.value.device_class;
  r.first_seen_ms = e.first_seen_ms;
  r.last_seen_ms = e.last_seen_ms;
  r.messages = e.value.messages;
  r.last_topic = e.value.last_topic;
  r.last_payload = e.value.last_payload;
  r.last_payload_truncated = e.value.last_payload_truncated;
  r.established = e.established;
  return r;
}

std::vector<device_record> device_registry::list() const {
  std::lock_guard lock(mu_);
  std::vector<device_record> out;
  out.reserve(devices_.size());
  devices_.for_each([&](const table::entry& e) { out.push_back(to_record(e)); });
  std::stable_sort(out.begin(), out.end(), [](const device_record& a, const device_record& b) {
    return a.last_seen_ms > b.last_seen_ms;
  });
  return out;
}

std::optional<device_record> device_registry::find(std::string_view device_id) const {
  std::lock_guard lock(mu_);
  const table::entry* e = devices_.find(device_id);
  if (e == nullptr) return std::nullopt;
  return to_record(*e);
}

bool device_registry::forget(std::string_view device_id) {
  std::lock_guard lock(mu_);
  if (const table::entry* e = devices_.find(device_id))
    payload_bytes_ -= e->value.last_payload.size();
  return devices_.erase(device_id);
}

std::size_t device_registry::size() const {
  std::lock_guard lock(mu_);
  return devices_.size();
}

std::uint64_t device_registry::evicted() const {
  std::lock_guard lock(mu_);
  return evicted_;
}

std::uint64_t device_registry::churned() const {
  std::lock_guard lock(mu_);
  return churned_;
}

}  // namespace portier::gateway
