// Named 256-bit keys, one 0600 file each in a directory: the spool's per-purpose keys. Destroying
// a key deletes its file (and the directory entry is synced), which makes everything sealed under
// it unreadable for good — crypto-shredding. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "platform/result.h"

namespace portier::platform {

using key256 = std::array<std::uint8_t, 32>;

class key_directory {
 public:
  // Creates `dir` (0700) if missing.
  static result<std::unique_ptr<key_directory>> open(const std::string& dir);

  // A new random key stored under `name` (names: letters, digits, '-', '_', '.').
  result<key256> create(const std::string& name);
  // The key, or nullopt if it does not exist (never made, or destroyed).
  std::optional<key256> get(const std::string& name);
  // Deletes the key. True if it existed.
  bool destroy(const std::string& name);
  const std::string& dir() const { return dir_; }

 private:
  explicit key_directory(std::string dir) : dir_(std::move(dir)) {}
  std::string path(const std::string& name) const { return dir_ + "/" + name + ".key"; }

  std::string dir_;
  std::mutex mu_;
  std::map<std::string, key256> cache_;
};

}  // namespace portier::platform
