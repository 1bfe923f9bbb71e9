// The ledger's per-device keys. Each device has a random key id and a 256-bit key that seals its
// id inside its ledger entries; dropping the key erases the device from the ledger for good
// (crypto-shredding). A device is found by a reference (an HMAC of its id computed by the
// ledger), never by its id.
//
// Bounded: at most `max_devices` keys, evicted segmented-LRU (gateway/store/segmented_lru.h), so a
// flood of one-shot device ids drops other one-shot ids' keys first. An evicted device's entries
// read as a forgotten device; seen again, it gets a new key.
//
// Kept in one file (0600, proto/ledger.proto DeviceKeys), written whole by atomic replace and only
// by save(): the ledger calls it off the data path, once per batch that made or dropped keys, and
// before it appends entries sealed under new keys, so no entry reaches disk before its key. Its
// size (about 100 bytes a device) is counted within the ledger's max_bytes.
//
// Not thread-safe: the ledger's I/O lock guards it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/store/segmented_lru.h"
#include "platform/key_directory.h"
#include "platform/result.h"

namespace portier::gateway {

class ledger_device_keys {
 public:
  struct device_key {
    std::uint64_t key_id = 0;
    platform::key256 key{};
  };

  // Reads `path` when it exists. A file that cannot be decoded is an error.
  static platform::result<std::unique_ptr<ledger_device_keys>> open(std::string path,
                                                                    std::size_t max_devices);

  // The key of the device with this reference, which becomes its most recently used. Absent and
  // `create`: a new random key, evicting beyond max_devices (the key ids evicted are appended to
  // `evicted`). nullopt when absent and !create, or when no random key could be made.
  std::optional<device_key> get(std::string_view ref, bool create, std::int64_t now_ms,
                                std::vector<std::uint64_t>& evicted);
  // A key by its id (reading entries), nullopt when dropped.
  std::optional<platform::key256> key(std::uint64_t key_id) const;
  std::optional<std::uint64_t> key_id_of(std::string_view ref) const;
  // Drops a key (erasure). True if it was there.
  bool drop(std::uint64_t key_id);
  // Takes in a key of an earlier version's key directory (migration at start-up).
  void adopt(std::string ref, device_key k, std::int64_t now_ms);

  bool dirty() const { return dirty_; }
  // Writes the file if anything changed since the last save.
  platform::result<bool> save();
  std::uint64_t file_bytes() const { return file_bytes_; }
  std::size_t size() const { return table_.size(); }

 private:
  ledger_device_keys(std::string path, std::size_t max_devices);

  std::string path_;
  segmented_lru<device_key> table_;
  std::unordered_map<std::uint64_t, std::string> by_key_id_;  // key id -> ref
  bool dirty_ = false;
  std::uint64_t file_bytes_ = 0;
};

}  // namespace portier::gateway
