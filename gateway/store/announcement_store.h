// What discovery messages announced about state topics (policies/announcement.h): the table the
// evaluator reads to choose a class for an ESPHome or Home Assistant state, kept by portierd
// across messages and restarts.
//
// Bounded: at most `max_entries` state topics, evicted segmented-LRU (segmented_lru.h). An entry
// becomes established when it is used (looked up, or announced again) a minute or more after it
// was first announced, so a flood of made-up discovery messages (any client of an anonymous local
// broker can publish one) evicts other made-up ones first, not the household's sensors. Every
// eviction is counted (announcements_evicted); an evicted topic's states are dropped as
// unannounced_topic until its device announces it again.
//
// Persisted in one file (state_dir/announcements.pb, mode 0600, proto/announcements.proto),
// written whole by atomic replace, and only by save(): portierd calls it off the message path (its
// main loop, at most every few seconds, and at shutdown). Only a new or changed announcement makes
// the table dirty, never a look-up, so a busy sensor does not wear the flash. A restart must not
// forget: a broker sends retained discovery messages to a new subscription, not to a persistent
// session that resumes. The file holds state topics (node and entity names, as the local broker
// has them) and what they measure; nothing of it leaves the home. A file that cannot be decoded
// is set aside (problem() says so) and the table starts empty: it is a cache of what devices
// announce again when they reconnect, not a record.
//
// Thread-safe: one mutex, held for map operations and while the file's content is built; the file
// is written outside it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "gateway/store/segmented_lru.h"
#include "platform/result.h"
#include "policies/announcement.h"

namespace portier::gateway {

class announcement_store final : public policies::announcement_table {
 public:
  static constexpr std::int64_t kEstablishAfterMs = 60'000;
  static constexpr std::size_t kMaxFileBytes = 64u << 20;

  // Reads `path` when it exists. Fails only when the file exists but cannot be read.
  static platform::result<std::unique_ptr<announcement_store>> open(
      std::string path, std::size_t max_entries,
      std::atomic<std::uint64_t>* evicted_counter = nullptr);

  bool find(std::string_view state_topic, std::int64_t now_ms,
            policies::announced_meaning& out) override;
  void record(const policies::announcement& a, std::int64_t now_ms) override;

  // Writes the file if an announcement changed since the last save.
  platform::result<bool> save();

  std::size_t size() const;
  std::uint64_t evicted() const;
  bool dirty() const;
  // Called (on record()'s thread, without a lock held) when a change makes the table dirty
  // where it was not. Set before other threads record.
  void set_work_notifier(std::function<void()> notify) { notify_ = std::move(notify); }
  // Why the file read at open() was set aside, or empty.
  const std::string& problem() const { return problem_; }

 private:
  announcement_store(std::string path, std::size_t max_entries,
                     std::atomic<std::uint64_t>* evicted_counter);

  const std::string path_;
  std::atomic<std::uint64_t>* const evicted_counter_;
  mutable std::mutex mu_;
  segmented_lru<policies::announced_meaning> table_;
  bool dirty_ = false;
  std::uint64_t evicted_ = 0;
  std::function<void()> notify_;
  std::string problem_;
};

}  // namespace portier::gateway
