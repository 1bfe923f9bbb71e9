// The transparency ledger: what left the home, to whom (purpose), why, and what was dropped;
// plus every consent receipt, policy change and erasure. proto/ledger.proto describes the files.
//
// Contract:
//  - Append-only and hash-chained: entry n carries seq n, its time and the hash of entry n-1;
//    its hash is SHA-256(prev_hash || entry bytes). A head file (atomic replace after every batch)
//    holds the last seq and hash, so a removed tail is detected too. verify() reads the files and
//    names the first bad seq and the problem (ledger_problem). The head is written when the
//    ledger is created and only ever replaced, so entries without a head are reported too.
//  - Releases are aggregated in memory per (device, class, purpose, minute): field names (never
//    values), count, bytes; drops per minute by reason. record_release() and record_drops() never
//    do I/O and never wait for it: a finished minute is handed to a bounded queue, which flush(now)
//    writes in one batch (one fsync, one head write). Call flush(now) every second or so from a
//    thread that is not the data path (the daemon's main loop), and flush_all() at shutdown (the
//    destructor does it too). At most `max_open_keys` (device, class, purpose) keys are held; a new
//    one beyond that queues the open minute early (the minute then has two entries for some keys;
//    report() adds them up). If flush() falls behind by more than a few batches, the oldest queued
//    batch is dropped and counted (batches_dropped()).
//  - Consent receipts, policy changes and erasures are written at once, one fsync each. Access
//    entries (the household's use of the control API: method, command, ok; never a value) join
//    the next batch flush() writes; at most kMaxQueuedAccess wait, beyond that the oldest is
//    dropped and counted (access_dropped()).
//  - Devices never appear in clear: each has a random key id and a 256-bit key (ledger_device_keys:
//    one file "device-keys", found by an HMAC of the device id under the gateway secret); entries
//    hold the key id and AES-GCM(key, device id); a device-scoped consent receipt is copied with
//    its device sealed the same way. Keys are made when a batch is written (never on the data
//    path), at most `max_devices` of them: beyond it the least recently seen one-shot device's key
//    is dropped (counted in `evicted_counter`, and an Eviction entry lists the key ids), and its
//    entries read as "a forgotten device". erase_device() drops the key: the device's entries then
//    read as "an erased device", and the chain still verifies. Keys of earlier versions (one file
//    per device in the key directory, and the "devices" index) are migrated at open().
//  - Bounded: segment files of `segment_bytes`; when they and the device keys exceed `max_bytes`,
//    the oldest segment is deleted and the head's anchor (seq and prev hash of the first entry
//    kept) moves, so verification starts there.
//  - open() recovers from a power cut: a torn frame after the last committed entry is cut off;
//    whole entries written after the last head update are adopted if they chain on; segments
//    before the anchor (a rotation cut short) are deleted. Damage is left for verify() to report.
//  - Write errors are logged and counted (write_errors()); the data path never fails over the
//    ledger. Transparency data of that batch is lost; the chain stays consistent.
//
// Threading: every method is thread-safe. Two mutexes: the aggregation lock (the data path's
// record_* take only this one, for in-memory updates) and the I/O lock (writing, reading, keys),
// taken before the aggregation lock where both are needed. verify(), read() and report() read
// every segment under the I/O lock (at most max_bytes); they are for the control API.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/household/consent_store.h"
#include "gateway/store/ledger_device_keys.h"
#include "platform/key_directory.h"
#include "platform/result.h"
#include "policies/drop_reason.h"

namespace portier::ledger {
class LedgerEntry;
class SealedDevice;
}  // namespace portier::ledger

namespace portier::gateway {

struct ledger_options {
  std::string dir;                           // created 0700 if missing
  std::uint64_t segment_bytes = 1ull << 20;  // at least 4 KiB
  std::uint64_t max_bytes = 16ull << 20;     // at least 2 segments' worth
  std::size_t max_open_keys = 10'000;        // (device, purpose) pairs aggregated in memory
  std::size_t max_devices = 4096;            // device keys (also bounded by max_bytes / 4)
  std::atomic<std::uint64_t>* evicted_counter = nullptr;  // if set, counts device keys evicted
  std::atomic<std::uint64_t>* dropped_counter = nullptr;  // if set, counts minutes dropped unwritten
  std::atomic<std::uint64_t>* access_dropped_counter = nullptr;  // if set, Access entries dropped
};

enum class ledger_problem : std::uint8_t {
  none,
  corrupt,      // a frame cannot be read (bad magic, length or encoding)
  edited,       // an entry's content does not match its hash
  removed,      // a seq is missing and appears nowhere else
  reordered,    // an entry is out of place (its seq appears before or after where it belongs)
  broken_link,  // an entry does not chain onto the entry before it (that one was replaced)
  truncated,    // the files end before the last entry the head records
  head_mismatch,// the files go beyond the head, or the last hash differs from the head's
};
std::string_view ledger_problem_name(ledger_problem p);

struct ledger_check {
  bool ok = true;
  std::uint64_t count = 0;          // entries that verified, from the anchor on
  std::uint64_t first_seq = 0;      // the anchor: where verification started
  ledger_problem problem = ledger_problem::none;
  std::uint64_t bad_seq = 0;        // when !ok: the first seq that is bad (or missing)
  std::string detail;
  std::string head_hash;            // lower-case hex hash of the last entry written; empty when none
};

// A policy raised a purpose's daily ε cap.
struct cap_change_record {
  std::string purpose;
  std::uint64_t before_micro = 0;
  std::uint64_t after_micro = 0;
};

// What one purpose receives from one device class, before and after a policy change, in
// explain's words (policies/release_changes.h).
struct release_change_record {
  std::string class_id;
  std::string purpose;
  std::vector<std::string> before;
  std::vector<std::string> after;
  bool widens = false;
};

// One decoded entry, for reports and exports. Only the fields of its kind are set.
struct ledger_record {
  enum class kind : std::uint8_t { release, drops, consent, policy, erasure, access };
  std::uint64_t seq = 0;
  std::int64_t time_ms = 0;
  kind type = kind::release;

  // release, and consent with a device scope
  std::uint64_t device_key = 0;  // the device's key id (0: none)
  std::string device;            // the device id; empty when erased
  bool device_erased = false;    // its key was destroyed: "an erased device"
  bool device_forgotten = false;  // its key was evicted (max_devices): "a forgotten device"
  // release
  std::string device_class;
  std::string purpose;
  std::int64_t minute_ms = 0;  // also for drops
  std::vector<std::string> fields;
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
  std::uint64_t epsilon_micro = 0;  // release: ε spent (window releases with noise)
  // drops: reason name -> count
  std::vector<std::pair<std::string, std::uint64_t>> drops;
  // consent (scope_value holds the device id where readable)
  consent_receipt receipt;
  // policy
  std::string policy_name;
  std::uint64_t policy_version = 0;
  std::string policy_source;
  bool policy_applied = false;
  std::string policy_reason;
  std::vector<cap_change_record> cap_raises;
  std::vector<release_change_record> policy_changes;
  bool policy_widens = false;
  // access
  std::string access_method;
  std::string access_command;
  bool access_ok = false;
  // erasure
  std::vector<std::uint64_t> erased_keys;
  std::vector<std::pair<std::string, std::string>> pseudonyms;  // purpose, pseudonym
  std::uint64_t spool_records = 0;
  std::uint64_t ledger_entries = 0;
};

struct ledger_report {
  struct row {
    std::uint64_t device_key = 0;
    std::string device;  // empty when erased
    bool device_erased = false;
    bool device_forgotten = false;
    std::string device_class;
    std::string purpose;
    std::vector<std::string> fields;  // union, sorted
    std::uint64_t count = 0;
    std::uint64_t bytes = 0;
    std::uint64_t epsilon_micro = 0;
    std::int64_t first_minute_ms = 0;
    std::int64_t last_minute_ms = 0;
    // With buckets asked for: count and bytes per bucket from since_ms on.
    std::vector<std::uint64_t> bucket_count;
    std::vector<std::uint64_t> bucket_bytes;
  };
  std::int64_t since_ms = 0;
  std::int64_t oldest_ms = 0;  // time of the oldest entry the ledger still holds (0: empty)
  std::vector<row> releases;  // ordered by device, class, purpose
  std::vector<std::pair<std::string, std::uint64_t>> drops;  // by reason name, sorted
  std::uint64_t released_count = 0;
  std::uint64_t released_bytes = 0;
  std::uint64_t dropped_count = 0;
};

struct erase_outcome {
  std::vector<std::uint64_t> keys_destroyed;
  std::uint64_t ledger_entries = 0;  // entries of the device now unreadable
};

class ledger {
 public:
  // `keys` and `secret` (the gateway secret, for the device index) must outlive the ledger.
  static platform::result<std::unique_ptr<ledger>> open(ledger_options options, platform::key_directory& keys,
                                                        std::span<const std::uint8_t> secret);
  ~ledger();  // flush_all() with the last time seen
  ledger(const ledger&) = delete;
  ledger& operator=(const ledger&) = delete;

  // Data path. `fields` are field names (paths), never values. False if the device id is not
  // 1 to 256 bytes of UTF-8 without NUL (nothing recorded).
  // `epsilon_micro`: the ε a window's noisy release spent, in millionths (0: none).
  bool record_release(std::string_view device_id, std::string_view device_class,
                      std::string_view purpose, std::span<const std::string_view> fields,
                      std::uint64_t bytes, std::int64_t now_ms, std::uint64_t epsilon_micro = 0);
  void record_drops(const policies::drop_counts& drops, std::int64_t now_ms);

  // Written at once. A copy of the receipt, its device (if any) sealed.
  void record_consent(const consent_receipt& receipt);
  // Written at once. `source`: "file reload", "bundle", ...; `reason_code` empty when applied.
  // `cap_raises`: purposes whose daily ε cap the policy raised (purpose, before, after).
  struct cap_change {
    std::string purpose;
    double before = 0;
    double after = 0;
  };
  // `changes`: what it changed in what each purpose receives (at most kMaxPolicyChanges are
  // kept, 64 phrases a side of at most 256 bytes each, half a frame in all: those beyond are left
  // out); `widens`: whether anything lets more leave (a raised cap included).
  void record_policy(std::string_view name, std::uint64_t version, std::string_view source,
                     bool applied, std::string_view reason_code, std::int64_t now_ms,
                     std::span<const cap_change> cap_raises = {},
                     std::span<const release_change_record> changes = {}, bool widens = false);
  static constexpr std::size_t kMaxPolicyChanges = 256;

  // Queued for the next flush(): the household used the control API (`method` "web", "cli"...;
  // `command` the request's command). Never a value, never a code. Never waits for I/O.
  void record_access(std::string_view method, std::string_view command, bool ok,
                     std::int64_t now_ms);
  static constexpr std::size_t kMaxQueuedAccess = 1024;

  // Writes the aggregates of minutes before now's minute.
  void flush(std::int64_t now_ms);
  // When flush() next has something to write (wall-clock ms): 0 when something waits already
  // (a finished minute, an access entry), the end of the open minute when only it has
  // aggregates, nullopt when nothing is waiting.
  std::optional<std::int64_t> next_flush_ms() const;
  // Called (on the recording thread, without a lock held) when something for flush() appears
  // where nothing was waiting, so that a main loop asleep until its next deadline wakes up.
  // Set before other threads record.
  void set_work_notifier(std::function<void()> notify) { notify_ = std::move(notify); }
  // Writes every aggregate, the current minute's too.
  void flush_all(std::int64_t now_ms);

  // Crypto-shreds a device: writes its open aggregates, destroys its keys (every key whose
  // entries name it, found through the index and by reading the ledger), removes its index entry
  // and records an erasure entry with the pseudonyms (purpose, pseudonym) upstream knows it by and
  // the spool records the caller purged. Fails for an invalid device id, more than 256
  // pseudonyms, or when the index or the erasure entry cannot be written (the keys are gone by
  // then: the device is erased either way). A device seen again later gets a new key.
  platform::result<erase_outcome> erase_device(std::string_view device_id,
                                               std::span<const std::pair<std::string, std::string>> pseudonyms,
                                               std::uint64_t spool_records, std::int64_t now_ms);

  ledger_check verify() const;
  // Entries at or after since_ms (by their minute for releases and drops, by time otherwise),
  // oldest first. Aggregates not written yet are not included.
  // With `only`, entries of that kind only (devices are then decrypted only if it has them).
  std::vector<ledger_record> read(std::int64_t since_ms,
                                  std::optional<ledger_record::kind> only = std::nullopt) const;
  // Releases per (device, class, purpose) and drops by reason since since_ms, open aggregates
  // included. With bucket_ms > 0, each row also counts per bucket of bucket_ms from since_ms on,
  // `buckets` of them (a release before since_ms's minute ends counts in the first, one after the
  // last bucket in the last).
  ledger_report report(std::int64_t since_ms, std::int64_t bucket_ms = 0,
                       std::size_t buckets = 0) const;

  std::uint64_t bytes() const;
  std::uint64_t last_seq() const;
  std::uint64_t write_errors() const;
  std::uint64_t batches_dropped() const;
  std::uint64_t access_dropped() const;
  std::size_t device_keys() const;

 private:
  struct segment {
    std::uint64_t index = 0;
    std::string path;
    std::uint64_t size = 0;
    std::uint64_t first_seq = 0;  // 0 while empty
    std::string first_prev;       // prev hash of its first entry
    std::uint64_t last_seq = 0;
  };
  struct aggregate {
    std::string device;
    std::string device_class;
    std::string purpose;
    std::set<std::string, std::less<>> fields;
    std::uint64_t count = 0;
    std::uint64_t bytes = 0;
    std::uint64_t epsilon_micro = 0;
  };
  using aggregates =
      std::unordered_map<std::string, aggregate>;  // key: device '\0' class '\0' purpose
  struct batch {
    std::int64_t minute = 0;
    aggregates open;
    std::array<std::uint64_t, policies::kDropReasonCount> drops{};
  };
  struct parsed_frame;

  ledger(ledger_options options, platform::key_directory& keys, std::span<const std::uint8_t> secret);
  platform::result<bool> recover();
  platform::result<bool> migrate_legacy_keys();
  // Aggregation lock held: queues the open minute (if anything is in it) for writing.
  void queue_open_agg_locked();
  void roll_minute_agg_locked(std::int64_t now_ms);
  // Aggregation lock held: nothing waits for flush().
  bool idle_locked() const;
  // I/O lock held: writes queued batches (and the open minute too when `all`).
  void write_queued_locked(std::int64_t now_ms, bool all);
  struct access_entry;
  void write_batches_locked(std::vector<batch>& batches, std::vector<access_entry>& access,
                            std::int64_t now_ms);
  bool append_locked(std::vector<portier::ledger::LedgerEntry>& entries);
  bool write_head_locked();
  void rotate_locked();
  // Seals a device id under its key (made when `create`); false when no key.
  bool seal_device_locked(std::string_view device_id, bool create, std::int64_t now_ms,
                          std::vector<std::uint64_t>& evicted, portier::ledger::SealedDevice& out);
  void record_evictions_locked(const std::vector<std::uint64_t>& evicted, std::int64_t now_ms,
                               std::vector<portier::ledger::LedgerEntry>& entries);
  std::string index_ref(std::string_view device_id) const;
  std::optional<platform::key256> key_locked(std::uint64_t key_id) const;
  // Decrypts a sealed device; nullopt when its key is gone (erased) or it does not authenticate.
  std::optional<std::string> open_device_locked(const portier::ledger::SealedDevice& d) const;
  // Every frame of every segment on disk, in order; a segment's unreadable rest is one bad frame.
  std::vector<parsed_frame> read_all_locked() const;
  std::vector<ledger_record> read_locked(
      std::int64_t since_ms, std::int64_t* oldest_ms = nullptr,
      std::optional<ledger_record::kind> only = std::nullopt) const;
  void note_time(std::int64_t now_ms);

  ledger_options options_;
  platform::key_directory& keys_;
  std::vector<std::uint8_t> secret_;

  mutable std::mutex mu_;  // I/O: files, chain, keys
  std::deque<segment> segments_;
  int fd_ = -1;  // the last segment, open for appending
  std::uint64_t total_bytes_ = 0;
  std::uint64_t last_seq_ = 0;
  std::string last_hash_;  // 32 bytes
  std::uint64_t anchor_seq_ = 1;
  std::string anchor_prev_;
  bool head_lost_ = false;  // entries exist but the head file was missing at open
  std::uint64_t write_errors_ = 0;
  std::unique_ptr<ledger_device_keys> keys_table_;
  std::atomic<std::int64_t> last_now_ms_{0};

  mutable std::mutex agg_mu_;      // aggregation: the data path's only lock here
  std::int64_t open_minute_ = -1;  // minute (start, ms) the open aggregates belong to; -1: none
  aggregates open_;
  std::string key_buf_;
  std::array<std::uint64_t, policies::kDropReasonCount> open_drops_{};
  std::deque<batch> queued_;  // finished, not written yet, oldest first
  std::size_t queued_keys_ = 0;
  std::uint64_t batches_dropped_ = 0;
  std::uint64_t batches_dropped_logged_ = 0;
  struct access_entry {
    std::string method;
    std::string command;
    bool ok = false;
    std::int64_t time_ms = 0;
  };
  std::deque<access_entry> queued_access_;
  std::uint64_t access_dropped_ = 0;
  std::function<void()> notify_;
};

}  // namespace portier::gateway
