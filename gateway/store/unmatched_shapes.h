// A bounded, local record of the shapes of messages no device class takes (drop reason
// unmatched_topic), so that an operator can see what the policy does not cover yet and draft a
// class for it (`portierctl unmatched`, `portier-policy suggest`). A shape is a topic with its
// variable levels as "+", the key paths and the kinds of value seen, a count, and the first
// and last time it was seen; never a value, nor a topic level or key that may name someone
// (policies/message_shape.h).
//
// Bounded: at most max_shapes shapes (config `unmatched.max_shapes`), evicted segmented-LRU
// (segmented_lru.h): shapes seen only once go before shapes that keep coming; each eviction is
// counted (`unmatched_shapes_evicted`). A shape keeps at most 64 paths.
//
// Kept in one file, state_dir/unmatched.pb (0600, proto/unmatched.proto ShapesFile), written
// whole by atomic replace, never on the message path: by save_if_due() from the daemon's main
// loop (at most once a minute, when something changed), by save() when the daemon stops, and at
// once by clear(). A file that cannot be read is reported and replaced by the next save: the
// shapes help an operator, nothing depends on them.
//
// Threading: record() runs on one thread (the ingress), list(), size() and clear() on any
// (the control server), save*() on any (the main loop): one mutex guards the table and is held
// only to copy or update it; another orders the writes of the file.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/store/segmented_lru.h"
#include "platform/result.h"
#include "policies/compiled_policy.h"
#include "policies/message_shape.h"
#include "unmatched.pb.h"

namespace portier::gateway {

struct unmatched_shapes_options {
  std::string path;  // state_dir/unmatched.pb
  std::size_t max_shapes = 256;
  std::chrono::milliseconds save_interval{60'000};
  std::atomic<std::uint64_t>* evicted_counter = nullptr;  // unmatched_shapes_evicted
};

class unmatched_shapes {
 public:
  // Reads the file when there is one. Always returns a usable table; when the file cannot be
  // read or decoded, `problem` says why and the table starts empty.
  static std::unique_ptr<unmatched_shapes> open(unmatched_shapes_options options,
                                                std::string& problem);

  // Records one message that `policy` matched to no class (its filters' literal levels are
  // words a shape may keep). From one thread at a time.
  void record(const std::shared_ptr<const policies::compiled_policy>& policy,
              std::string_view topic, std::string_view payload, std::int64_t now_ms);

  // Every shape, most messages first (then by topic).
  std::vector<unmatched::Shape> list() const;
  std::size_t size() const;
  std::size_t max_shapes() const { return options_.max_shapes; }
  // Shapes evicted to stay within max_shapes since start.
  std::uint64_t evicted() const { return evicted_; }

  // Forgets every shape, on disk too (before it returns). The number forgotten.
  platform::result<std::size_t> clear();
  // Writes the file if anything changed since the last write.
  platform::result<bool> save();
  // save(), when something changed and save_interval has passed since the last write.
  platform::result<bool> save_if_due(std::chrono::steady_clock::time_point now);
  // When save_if_due() next writes: nullopt while nothing changed, the epoch (at once) before
  // the first write. Call from save_if_due()'s thread.
  std::optional<std::chrono::steady_clock::time_point> next_save() const;
  // Called (on record()'s thread, without a lock held) when a change makes a save due where
  // none was. Set before other threads record.
  void set_work_notifier(std::function<void()> notify) { notify_ = std::move(notify); }

 private:
  explicit unmatched_shapes(unmatched_shapes_options options);
  struct shape {
    std::uint64_t messages = 0;
    policies::payload_shape payload;
  };
  using table = segmented_lru<shape>;
  static void to_proto(const table::entry& e, unmatched::Shape& out);

  const unmatched_shapes_options options_;
  // The vocabulary of the policy last seen by record() (its thread only), and that policy: not
  // held, so that a replaced policy is freed at once.
  std::weak_ptr<const policies::compiled_policy> vocabulary_policy_;
  std::unique_ptr<policies::shape_vocabulary> vocabulary_;

  mutable std::mutex mu_;  // guards table_, dirty_
  table table_;
  bool dirty_ = false;
  std::atomic<std::uint64_t> evicted_{0};

  std::mutex io_mu_;  // one write of the file at a time, in order
  std::chrono::steady_clock::time_point last_save_{};
  std::function<void()> notify_;
};

}  // namespace portier::gateway
