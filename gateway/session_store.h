// Paho's session persistence for the local client, sealed and cheap: the messages Paho holds
// between receiving a QoS 2 PUBLISH and handing it to the ingress (PUBLISH_RECEIVED) are raw
// device telemetry, so they never touch the disk in clear, and they are written as appends to one
// log instead of one file created and deleted per message (Paho's file persistence did that, and
// ext4's inode allocation cost more CPU than everything else portierd does per message).
//
// The log `session.log` in `dir` holds records
//     body length (u32) | CRC-32 of body (u32) | nonce (12) | AES-256-GCM(op | key length | key |
//     value)
// with op put, remove or clear, sealed under the key `mqtt-session` of the key directory. The live
// entries are kept in memory; open() replays the log (a torn or corrupt tail is cut off, a record
// that fails its tag ends the replay), then rewrites it with only the live entries. The log is
// truncated whenever nothing is live and it passed 1 MiB, and rewritten when it passed 16 MiB.
//
// Durability is the same as Paho's files: written, never synced — a crash of portierd loses
// nothing (the kernel has the bytes), a power cut may lose what Paho held in flight (the spool's
// durability setting covers what was handed over). Thread-safe; Paho calls it from its threads.
// Errors are reported to Paho as persistence exceptions and logged (never with values).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <mqtt/exception.h>
#include <mqtt/iclient_persistence.h>

#include "platform/aes_gcm.h"
#include "platform/key_directory.h"

namespace portier::gateway {

class session_store : public mqtt::iclient_persistence {
 public:
  // `dir` is created (0700) on open(); the key is created in `keys` on first use.
  session_store(std::string dir, platform::key_directory& keys);
  ~session_store() override;

  void open(const mqtt::string& client_id, const mqtt::string& server_uri) override;
  void close() override;
  void clear() override;
  bool contains_key(const mqtt::string& key) override;
  mqtt::string_collection keys() const override;
  void put(const mqtt::string& key, const std::vector<mqtt::string_view>& bufs) override;
  mqtt::string get(const mqtt::string& key) const override;
  void remove(const mqtt::string& key) override;

  // For tests and status: live entries and the log's size in bytes.
  std::size_t size() const;
  std::uint64_t log_bytes() const;
  const std::string& log_path() const { return path_; }

 private:
  enum class op : std::uint8_t { put = 1, remove = 2, clear = 3 };
  bool ensure_cipher_locked();
  void replay_locked();
  bool rewrite_locked();
  bool seal_locked(op o, std::string_view key, std::string_view value);  // into frame_
  bool append_locked(op o, std::string_view key, std::string_view value);
  void compact_locked();

  const std::string dir_;
  const std::string path_;
  platform::key_directory& keys_;
  mutable std::mutex mu_;
  std::optional<platform::aes_gcm> cipher_;
  int fd_ = -1;
  std::uint64_t log_bytes_ = 0;
  std::map<std::string, std::string, std::less<>> entries_;
  platform::aes_gcm::nonce nonce_{};  // random 8-byte prefix per run, then a 4-byte counter
  std::uint32_t counter_ = 0;
  std::string frame_;  // reused between appends
  std::string plain_;
};

}  // namespace portier::gateway
