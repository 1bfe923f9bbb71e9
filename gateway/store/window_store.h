// window_store: portierd's aggregation windows (policies/window_aggregator.h) made durable under
// state_dir, so that a sample is counted once and a window released once across SIGTERM, SIGKILL
// and power cuts (as far as the spool's durability setting goes), and a privacy budget is never
// refilled by a restart.
//
// On disk, both sealed with AES-256-GCM under a key of the key directory ("windows-<id>"):
//   windows.pb       the snapshot: the aggregator's whole state (windows, DELTA readings,
//                    budgets; proto/windows.proto WindowState) with the journal sequence number it
//                    includes. Written whole by atomic replace (temporary file, fsync, rename).
//                       "PTW1" | key id (u64) | nonce | AES-GCM(WindowState)
//   windows.journal  the samples added since, one JournalEntry per message and purpose, appended:
//                       "PTJ1" | body length (u32) | CRC-32 of body | body,
//                       body = key id (u64) | nonce | AES-GCM(JournalEntry)
// open() loads the snapshot, cuts a torn journal tail off, skips (and counts) corrupt frames,
// replays the entries after the snapshot's sequence number through window_aggregator::add, then
// compacts (a fresh snapshot, an empty journal). A snapshot that cannot be read or does not load
// is set aside (problem() says why) and the store starts afresh, the journal with it: nothing of
// it ever leaves (fail closed). Budgets then start afresh as well.
//
// The order that makes this hold:
//  - add() (the ingress, per message) appends the message's journal entries, then adds them to
//    the aggregator; sync() (the ingress, before it acknowledges a read's messages to the local
//    broker, beside spool::sync_appended) makes them durable as the spool's durability says:
//    each: one fdatasync per read, before the acknowledgement; batch: a background thread syncs
//    every batch_interval (a power cut loses at most that interval, as with the spool); none:
//    never. A sample is so acknowledged only once it is as durable as a release would be. A crash
//    after the journal write and before the acknowledgement makes the broker send the message
//    again, and its sample is counted twice: at least once, like the spool.
//  - tick() (the main loop) takes the windows whose release time has come, FIRST writes a
//    snapshot (the window gone, the budget spent: durable before anything leaves), THEN appends
//    each release to the spool and records it in the ledger. A crash between the two loses those
//    windows' releases: fail closed, since releasing them again after a restart would draw fresh
//    noise and spend ε twice. A release the spool refuses (a write error) is kept and tried again
//    at the next tick.
//  - purge() forgets what waits for a purpose, class or device and crypto-shreds it: a snapshot
//    under a new key, the journal emptied, the old key destroyed.
//  - The journal is compacted (snapshot, then truncated) when it passes compact_bytes, at purge()
//    and at close().
//
// Bounded: the aggregator's limits (config aggregation.max_windows, max_budgets); the journal by
// compact_bytes plus what arrives between two ticks; releases waiting for the spool by
// max_windows.
//
// Threading: add() and sync() on the ingress thread; tick(), close() on the main loop; purge(),
// summary(), note_cap_raise() from the control thread or the policy installer. One mutex guards
// the aggregator and the journal, held for in-memory work and journal appends (the fdatasync of
// sync() runs outside it); a second one orders snapshot writes and the releases that follow
// them, so that tick() writes its snapshot while the ingress goes on adding. Compaction (rare)
// holds both.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gateway/counters.h"
#include "gateway/store/spool.h"
#include "platform/aes_gcm.h"
#include "platform/key_directory.h"
#include "platform/result.h"
#include "policies/random_source.h"
#include "policies/window_aggregator.h"

namespace portier::windows {
class JournalEntry;
class WindowState;
}  // namespace portier::windows

namespace portier::gateway {

class ledger;

struct window_store_options {
  std::string dir;  // state_dir: windows.pb and windows.journal live here
  policies::window_limits limits;
  spool_options::durability sync = spool_options::durability::batch;
  std::chrono::milliseconds batch_interval{20};
  std::uint64_t compact_bytes = 1u << 20;  // journal size that makes tick() compact
  ledger* record = nullptr;                // releases and window drops, if set
};

// A policy update raised a purpose's ε cap (policies::raised_caps): shown with the purpose.
struct cap_raise {
  std::string purpose;
  double before = 0;
  double after = 0;
  std::int64_t at_ms = 0;
  std::string policy_name;
  std::uint64_t policy_version = 0;
};

// A random source that owns its CTR-DRBG (platform/ctr_drbg.h): the daemon's is seeded from the
// system (system_random_source), tests' deterministically.
std::unique_ptr<policies::random_source> owned_drbg_source(
    std::unique_ptr<platform::ctr_drbg> drbg);
platform::result<std::unique_ptr<policies::random_source>> system_random_source();

class window_store {
 public:
  // `rng` draws release delays and noise (the daemon: a CTR-DRBG seeded from the system; tests: a
  // deterministic one). Fails when state_dir cannot be written or no key can be made.
  static platform::result<std::unique_ptr<window_store>> open(
      window_store_options options, platform::key_directory& keys,
      std::unique_ptr<policies::random_source> rng, counters& stats);
  ~window_store();  // close()
  window_store(const window_store&) = delete;
  window_store& operator=(const window_store&) = delete;

  // The windowed releases of a decision (release::windowed) made by `policy`: journaled, then
  // added. False when the journal could not be written (logged; nothing of that entry was added):
  // the message must not be acknowledged.
  bool add(const policies::compiled_policy& policy, const policies::decision& d,
           std::int64_t now_ms);
  // Makes the journal durable as configured (see above); false (logged) when fdatasync failed.
  bool sync();

  // Releases the windows whose time has come (policy: the running one; permitted: whether a
  // purpose of it may still receive a device's data) into `out`, snapshot first. Returns the
  // windows appended to the spool.
  std::size_t tick(const policies::compiled_policy& policy, std::int64_t now_ms,
                   const policies::window_aggregator::permission& permitted, spool& out);

  // Forgets what waits for `purpose` ("" = every purpose) in scope `s` (value: the class or
  // device id), as spool::purge does for releases; then crypto-shreds the old state (a snapshot
  // under a new key, the journal emptied, the old key destroyed). Budgets are kept (forgetting
  // them would refill them). Returns the windows dropped.
  std::size_t purge(std::string_view purpose, spool::scope s, std::string_view value);

  // The purpose's budget: its cap, the most one device spent today (UTC day of now), and the sum
  // of every device's spend since its record was made.
  policies::window_aggregator::budget_summary summary(const policies::compiled_policy& policy,
                                                      std::string_view purpose,
                                                      std::int64_t now_ms) const;
  // Keeps (in the snapshot, written before it returns) that a policy raised a purpose's cap;
  // the last raise per purpose.
  void note_cap_raise(const cap_raise& raise);
  std::optional<cap_raise> last_cap_raise(std::string_view purpose) const;

  std::size_t open_windows() const;
  // When tick() next has something to do (wall-clock ms): a window's end or release time, 0
  // when the journal waits to be compacted, a second after `now_ms` while releases wait for the
  // spool; nullopt when nothing is open or waiting (or after close()).
  std::optional<std::int64_t> next_tick_ms(std::int64_t now_ms) const;
  // Called (on add()'s thread, without a lock held) when add() opens a window (its end may come
  // before every deadline known so far) or makes the journal due for compaction. Set before
  // other threads add.
  void set_work_notifier(std::function<void()> notify) { notify_ = std::move(notify); }
  // Why the state on disk was set aside at open(), or empty.
  const std::string& problem() const { return problem_; }
  std::uint64_t journal_bytes() const;

  // Compacts and stops: add() and tick() do nothing afterwards. Releases still waiting for the
  // spool are lost (logged and counted in windows_lost).
  void close();

 private:
  struct pending_release {
    policies::window_release release;
    std::string purpose;  // id: the index in `release` is only valid for the tick's policy
    bool snapshotted = false;
  };

  window_store(window_store_options options, platform::key_directory& keys,
               std::unique_ptr<policies::random_source> rng, counters& stats);
  platform::result<bool> recover();
  platform::result<bool> start_afresh_locked(const std::string& why);
  bool journal_locked(const policies::window_input& in);
  // The snapshot's plaintext: the aggregator's state, the journal's last sequence number, the
  // cap raises.
  std::string state_bytes_locked() const;
  // The snapshot file's bytes, sealed under `key_id`; empty if it cannot be sealed.
  std::string sealed_snapshot_locked(std::uint64_t key_id, std::string_view plaintext);
  platform::result<bool> write_snapshot_file(std::string_view sealed);
  // Snapshot, then an empty journal; with `rotate`, under a new key, the old one destroyed. Both
  // locks held.
  platform::result<bool> compact_locked(bool rotate);
  platform::aes_gcm* cipher_locked(std::uint64_t key_id);
  platform::result<std::uint64_t> new_key_locked();
  // The aggregator's counts since the last call, into stats_ (and the ledger's drops).
  void count_locked(std::int64_t now_ms);
  bool sync_journal();
  void background();  // durability batch: syncs the journal every batch_interval

  window_store_options options_;
  platform::key_directory& keys_;
  std::unique_ptr<policies::random_source> rng_;
  counters& stats_;
  std::string problem_;

  mutable std::mutex io_mu_;  // snapshot writes and pending_, in order; taken before mu_
  std::vector<pending_release> pending_;
  bool snapshot_failing_ = false;  // logged once until a write succeeds
  bool spool_failing_ = false;     // likewise

  mutable std::mutex mu_;  // the aggregator, the journal, keys, cap_raises_
  std::unique_ptr<policies::window_aggregator> agg_;
  policies::window_counts counted_{};
  std::map<std::string, cap_raise, std::less<>> cap_raises_;
  std::uint64_t key_id_ = 0;
  std::map<std::uint64_t, std::unique_ptr<platform::aes_gcm>> ciphers_;  // null: no such key
  int journal_fd_ = -1;
  std::uint64_t journal_size_ = 0;
  std::uint64_t next_seq_ = 1;      // of the next journal entry
  std::uint64_t appended_seq_ = 0;  // the last entry written
  std::uint64_t durable_seq_ = 0;   // the last entry synced (or in a snapshot)
  platform::nonce_sequence nonces_;
  bool closed_ = false;
  std::string frame_buf_;                  // reused by journal_locked
  std::condition_variable background_cv_;  // entries to sync while background_idle_, closed
  bool background_idle_ = false;           // background() sleeps until an entry is appended
  std::thread syncer_;
  std::function<void()> notify_;
};

}  // namespace portier::gateway
