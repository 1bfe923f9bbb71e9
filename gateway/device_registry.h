// The devices the gateway knows: class, first and last seen, and the last message each sent
// (topic and payload exactly as received) so that a household can ask "what did this device say,
// and what left?" (`portierctl explain`). Kept in memory only, never logged or sent.
//
// It is also the gate for new device ids (admit()): a device id the registry does not know is
// let in only while the new-id budget lasts (a token bucket of `max_new_per_minute`, refilled
// continuously), so a flood of made-up ids (any device on an anonymous local broker can publish
// to `zigbee2mqtt/<anything>`) cannot grow per-device state or crowd out the devices a household
// owns. Messages of ids refused are dropped by the caller and counted as `device_churn`.
//
// Bounded: at most `max_devices` devices and `max_payload_bytes` of kept payloads. Eviction is
// segmented LRU: a device is "probation" until it is seen again at least a minute after it was
// first seen, then "established". The least recently seen probation device goes first; an
// established device is forgotten only when no probation device is left. A burst of one-shot ids
// therefore evicts other one-shot ids, not the household's sensors. Past the payload budget the
// payloads of the least recently seen devices are dropped first (explain then says it has none).
//
// Thread-safe (one mutex, held for map operations only): the ingress admits and records, the
// control API reads.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/store/segmented_lru.h"

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
  bool established = false;  // seen again a minute or more after first seen
};

struct device_registry_options {
  std::size_t max_devices = 4096;
  std::uint32_t max_new_per_minute = 600;    // also the burst a first start may take at once
  std::size_t max_payload_bytes = 4u << 20;  // of every device's kept last payload together
  std::atomic<std::uint64_t>* evicted_counter = nullptr;  // if set, also counts evictions
};

class device_registry {
 public:
  static constexpr std::size_t kMaxPayload = 64 * 1024;
  static constexpr std::int64_t kEstablishAfterMs = 60'000;

  explicit device_registry(device_registry_options options = {});

  // True if the device is known, or is new and the new-id budget allows it (it is then
  // registered, with no message yet). False: refused, counted in churned().
  bool admit(std::string_view device_id, std::string_view device_class, std::int64_t now_ms);
  // Records a message of an admitted device (registers it if it was forgotten meanwhile).
  void record(std::string_view device_id, std::string_view device_class, std::string_view topic,
              std::string_view payload, std::int64_t now_ms);
  std::vector<device_record> list() const;  // most recently seen first
  std::optional<device_record> find(std::string_view device_id) const;
  // Forgets a device (erasure). True if it was known.
  bool forget(std::string_view device_id);

  std::size_t size() const;
  std::uint64_t evicted() const;  // devices forgotten to stay within max_devices
  std::uint64_t churned() const;  // new ids refused by the rate limit

 private:
  struct state {
    std::string device_class;
    std::uint64_t messages = 0;
    std::string last_topic;
    std::string last_payload;
    bool last_payload_truncated = false;
  };
  using table = segmented_lru<state>;

  table::entry& insert_locked(std::string_view device_id, std::string_view device_class,
                              std::int64_t now_ms);
  void trim_payloads_locked();
  void refill_locked(std::int64_t now_ms);
  static device_record to_record(const table::entry& e);

  const device_registry_options options_;
  mutable std::mutex mu_;
  table devices_;
  std::size_t payload_bytes_ = 0;
  double tokens_ = 0;
  std::int64_t refilled_at_ms_ = 0;
  std::uint64_t evicted_ = 0;
  std::uint64_t churned_ = 0;
};

}  // namespace portier::gateway
