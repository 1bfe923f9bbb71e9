// The spool: durable, bounded, encrypted store-and-forward between the policy and upstream.
//
// Releases are appended to segment files as framed records
//     magic "PTS1" | body length | CRC-32 of body | body
//     body = seq | key id | purpose | nonce | AES-256-GCM(SpoolRecord)   (seq, key id and purpose
//            are the associated data)
// sealed under a key per purpose held in a key_directory. A record leaves only when upstream
// acknowledged it (acknowledge(seq)); everything before the first unacknowledged record is
// behind the cursor, which is persisted, and whole segments behind it are deleted. Records are
// read back in append order, so each purpose's order is kept; after a lost connection or a
// restart, unacknowledged records are sent again (at least once).
//
// Bounded: `max_bytes` of segments. When full, either the ingress pauses (refuse_new: it checks
// full() before it takes each message and, when full, leaves the message with the local broker
// and disconnects; append() accepts `headroom_bytes` more for the releases of the message taken
// last, and beyond that still accepts, counted in spool_refused_full: that message is already
// taken) or append()
// deletes the oldest segment (drop_oldest); either is counted. Records older than their purpose's
// retention are dropped unsent. purge() crypto-shreds what waits for a purpose (optionally only one
// device's or one class's records): the keys they were sealed under are destroyed, survivors are
// re-sealed under a fresh key. Recovery on open() validates every frame: a torn tail is cut off,
// corrupt frames are skipped, and a record that fails its tag is never returned.
//
// Threading: append() from the ingress thread, next()/acknowledge()/rewind() from the egress
// threads, purge() from anywhere; one mutex guards the state, a background thread syncs batches
// and persists the cursor.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gateway/counters.h"
#include "platform/aes_gcm.h"
#include "platform/key_directory.h"
#include "platform/result.h"

namespace portier::gateway {

struct spool_options {
  enum class durability {
    each,   // fsync after every record: an acknowledged local message survives a power cut
    batch,  // fsync every batch_interval: a power cut loses at most the last interval's records
    none,   // never fsync: survives a crash of portierd, not a power cut
  };
  std::string dir;
  std::uint64_t max_bytes = 64ull << 20;
  bool drop_oldest = false;  // when full: false = refuse new (backpressure), true = drop oldest
  // refuse_new: room above max_bytes for what is already on its way when the ingress pauses at
  // max_bytes. append() waits for room beyond it until its deadline, then stores anyway (counted).
  // Default (npos): max_bytes / 4.
  std::uint64_t headroom_bytes = ~0ull;
  durability sync = durability::batch;
  std::chrono::milliseconds batch_interval{20};
  std::uint64_t segment_bytes = 0;  // 0: min(4 MiB, max_bytes / 8)
};

struct spool_entry {
  std::uint64_t seq = 0;
  std::string purpose;
  std::string topic;
  std::string payload;
  std::int64_t expires_at_ms = 0;
  bool resend = false;  // sent before a lost connection, or pending at start-up
};

class spool {
 public:
  using clock = std::chrono::steady_clock;
  enum class scope { household, device_class, device };

  static platform::result<std::unique_ptr<spool>> open(spool_options options,
                                                       platform::key_directory& keys,
                                                       std::span<const std::uint8_t> secret,
                                                       counters& stats);
  ~spool();
  spool(const spool&) = delete;
  spool& operator=(const spool&) = delete;

  enum class append_mode {
    // Wakes the reader waiting in next()/wait_ready(); with durability each, the record is synced
    // before append() returns.
    solo,
    // Neither: the caller sends the record itself (or calls wake_reader()) and, after the last
    // append of its batch, calls sync_appended() before it acknowledges any of the batch's
    // messages. With durability each that is one fdatasync for the batch (group commit).
    batched,
  };
  // Stores one release; its seq, or 0 if it could not be stored (closed, or an I/O error —
  // logged). refuse_new, beyond the headroom: waits for room until `deadline`, then stores anyway.
  std::uint64_t append(std::string_view purpose, std::string_view topic, std::string_view payload,
                       std::int64_t expires_at_ms, std::string_view device_id,
                       std::string_view device_class, std::int64_t now_ms,
                       clock::time_point deadline, append_mode mode = append_mode::solo);
  // Durability each: makes every record appended so far durable (one fdatasync, outside the lock),
  // and returns once it is; false (logged) when the sync failed. Otherwise nothing to do (batch:
  // the background thread syncs) and true.
  bool sync_appended();
  // Waits until every record up to `seq` is as durable as configured. False at the deadline.
  bool wait_durable(std::uint64_t seq, clock::time_point deadline);

  // The next record to send, moved in flight; nullopt at the deadline, when closed, or while
  // `max_inflight` records are unacknowledged. Expired, shredded and corrupt records are
  // skipped (and counted).
  std::optional<spool_entry> next(clock::time_point deadline, std::size_t max_inflight,
                                  std::int64_t now_ms);
  // Waits until next() would return a record at once (something to read and room in flight);
  // false at the deadline or when closed.
  bool wait_ready(clock::time_point deadline, std::size_t max_inflight);
  // Wakes a reader waiting in next() or wait_ready() if it can go on.
  void wake_reader();
  // From now on next() and wait_ready() return nothing / false at once, and every wait in them
  // ends: for a reader that waits without a short deadline and is stopping.
  void stop_readers();
  void acknowledge(std::uint64_t seq);
  // The connection was lost: everything in flight is read again, in order.
  void rewind();

  // Makes what waits for `purpose` (in `s`: all, one class, one device) unreadable and unsendable.
  // Returns how many records were destroyed. Records already in flight are not recalled.
  std::size_t purge(std::string_view purpose, scope s, std::string_view value);

  // Blocks until nothing waits or the deadline passes; true if empty.
  bool wait_empty(clock::time_point deadline);
  // Persists the cursor, syncs, stops the background thread; next()/append() return at once.
  void close();

  std::uint64_t bytes() const;
  // At or above max_bytes (refuse_new: time to pause the ingress).
  bool full() const;
  std::uint64_t pending() const;  // appended and not acknowledged (approximate after a restart)
  std::size_t inflight() const;

 private:
  struct segment {
    std::uint64_t index = 0;
    std::string path;
    int fd = -1;
    std::uint64_t size = 0;
  };
  struct position {
    std::uint64_t segment = 0;
    std::uint64_t offset = 0;
    bool operator<(const position& o) const {
      return segment != o.segment ? segment < o.segment : offset < o.offset;
    }
    bool operator==(const position&) const = default;
  };
  struct frame {
    std::uint64_t seq = 0;
    std::uint64_t key_id = 0;
    std::string purpose;
    platform::aes_gcm::nonce nonce{};
    std::string sealed;
    std::uint64_t length = 0;  // whole frame on disk
  };
  enum class read_status { ok, end, bad };

  spool(spool_options options, platform::key_directory& keys, std::span<const std::uint8_t> secret,
        counters& stats);
  platform::result<bool> recover();
  read_status read_frame(const segment& s, std::uint64_t offset, frame& f) const;
  std::optional<std::uint64_t> resync(const segment& s, std::uint64_t from) const;
  segment* find_segment(std::uint64_t index);
  bool roll_locked();
  // `fresh`: the record as the reader will want it, kept in the tail cache (null: not kept).
  bool write_frame_locked(std::string_view purpose, std::uint64_t key_id,
                          const std::string& plaintext, bool wake_reader = true,
                          spool_entry* fresh = nullptr);
  platform::aes_gcm* cipher_locked(std::uint64_t key_id, std::string_view purpose);
  std::optional<std::uint64_t> current_key_locked(std::string_view purpose, bool create);
  bool save_keys_locked();
  void drop_oldest_locked();
  void advance_cursor_locked();
  bool at_end_locked() const;
  // Waits (lock held) until next() can return at once; false at the deadline or when closed.
  bool wait_ready_locked(std::unique_lock<std::mutex>& lock, clock::time_point deadline,
                         std::size_t max_inflight);
  void notify_changed_locked();
  void wake_background_locked();
  void wake_reader_locked();
  position cursor_locked() const;
  void save_cursor();
  void background();
  std::string device_ref(std::string_view device_id) const;  // cached
  std::string device_ref_uncached(std::string_view device_id) const;
  std::string key_name(std::string_view purpose, std::uint64_t key_id) const;

  spool_options options_;
  platform::key_directory& keys_;
  std::vector<std::uint8_t> secret_;
  counters& stats_;

  mutable std::mutex mu_;
  std::condition_variable changed_;        // room freed, durable, emptied, closed: for waiters_
  std::condition_variable reader_cv_;      // next() can go on (data, room in flight), closed
  std::condition_variable background_cv_;  // work for background() (see its idle_), closed
  int waiters_ = 0;                        // in append() (room), wait_durable(), wait_empty()
  int readers_waiting_ = 0;
  std::size_t reader_max_inflight_ = 0;
  bool readers_stopped_ = false;  // stop_readers()
  std::deque<segment> segments_;
  std::uint64_t total_bytes_ = 0;
  std::uint64_t next_seq_ = 1;
  std::uint64_t first_seq_this_run_ = 1;
  std::uint64_t appended_seq_ = 0;
  std::uint64_t durable_seq_ = 0;
  std::uint64_t pending_ = 0;
  position read_;
  std::map<std::uint64_t, position> inflight_;  // seq -> frame start
  std::set<std::uint64_t> rewound_;             // put back by rewind(), not yet read again
  std::uint64_t max_read_seq_ = 0;              // highest seq next() has returned or skipped
  bool cursor_dirty_ = false;
  // background() sleeps without a timeout until there is work: releases to sync (FSYNC_BATCH) or
  // a cursor to save; whoever makes some wakes it (wake_background_locked).
  bool background_idle_ = false;
  // refuse_new: warned once that append() went beyond the headroom
  bool over_limit_logged_ = false;
  bool closed_ = false;
  std::map<std::string, std::uint64_t, std::less<>> current_key_;
  // null: a destroyed key
  std::map<std::uint64_t, std::unique_ptr<platform::aes_gcm>> ciphers_;
  // The last records appended in this run, in file order, as next() returns them: the reader
  // usually takes a record right after it was written, and then needs no read, decryption or
  // parsing. Bounded (kTailCacheMax); emptied by purge() and when a segment is dropped.
  struct cached_record {
    position pos;
    std::uint64_t length = 0;
    std::uint64_t key_id = 0;
    spool_entry entry;
  };
  std::deque<cached_record> tail_;
  platform::nonce_sequence nonces_;
  mutable std::mutex ref_mu_;
  mutable std::map<std::string, std::string, std::less<>> ref_cache_;  // device id -> device_ref
  std::thread background_;
};

}  // namespace portier::gateway
