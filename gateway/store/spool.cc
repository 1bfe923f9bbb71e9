#include "gateway/store/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "platform/crc32.h"
#include "platform/file.h"
#include "platform/hmac_sha256.h"
#include "platform/little_endian.h"
#include "platform/log.h"
#include "platform/random.h"
#include "spool.pb.h"

namespace portier::gateway {

namespace sp = ::portier::spool;
using platform::pread_all;
using platform::pwrite_all;

namespace {

constexpr char kMagic[4] = {'P', 'T', 'S', '1'};
constexpr std::size_t kHeaderBytes = 12;  // magic, body length, crc
constexpr std::size_t kMinBody =
    8 + 8 + 1 + platform::aes_gcm::kNonceBytes + platform::aes_gcm::kTagBytes;
constexpr std::uint32_t kMaxBody = 2u << 20;
constexpr auto kCursorSaveInterval = std::chrono::milliseconds(100);
constexpr std::size_t kTailCacheMax = 256;  // records
constexpr std::size_t kRefCacheMax = 1024;  // device ids

std::string segment_name(std::uint64_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu.seg", static_cast<unsigned long long>(index));
  return buf;
}

std::string associated_data(std::uint64_t seq, std::uint64_t key_id, std::string_view purpose) {
  std::string aad;
  platform::put_u64le(aad, seq);
  platform::put_u64le(aad, key_id);
  aad.append(purpose);
  return aad;
}

void sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

spool::spool(spool_options options, platform::key_directory& keys,
             std::span<const std::uint8_t> secret, counters& stats)
    : options_(std::move(options)),
      keys_(keys),
      secret_(secret.begin(), secret.end()),
      stats_(stats) {
  if (options_.segment_bytes == 0)
    options_.segment_bytes = std::min<std::uint64_t>(4u << 20, options_.max_bytes / 8);
  if (options_.headroom_bytes == ~0ull) options_.headroom_bytes = options_.max_bytes / 4;
  options_.segment_bytes = std::max<std::uint64_t>(options_.segment_bytes, 4096);
}

platform::result<std::unique_ptr<spool>> spool::open(spool_options options,
                                                     platform::key_directory& keys,
                                                     std::span<const std::uint8_t> secret,
                                                     counters& stats) {
  if (::mkdir(options.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return platform::error{options.dir +
                           ": cannot create spool directory: " + std::strerror(errno)};
  }
  std::unique_ptr<spool> s(new spool(std::move(options), keys, secret, stats));
  if (auto r = s->recover(); !r) return platform::error{r.error_message()};
  s->background_ = std::thread([p = s.get()] { p->background(); });
  return s;
}

spool::~spool() {
  close();
  for (auto& s : segments_) {
    if (s.fd >= 0) ::close(s.fd);
  }
}

std::string spool::key_name(std::string_view purpose, std::uint64_t key_id) const {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(key_id));
  return "spool-" + std::string(purpose) + "-" + hex;
}

std::string spool::device_ref(std::string_view device_id) const {
  std::lock_guard lock(ref_mu_);
  if (auto it = ref_cache_.find(device_id); it != ref_cache_.end()) return it->second;
  if (ref_cache_.size() >= kRefCacheMax) ref_cache_.clear();
  return ref_cache_[std::string(device_id)] = device_ref_uncached(device_id);
}

std::string spool::device_ref_uncached(std::string_view device_id) const {
  const auto mac =
      platform::hmac_sha256::mac(secret_, "portier/spool-device/v1/" + std::string(device_id));
  return std::string(reinterpret_cast<const char*>(mac.data()), 16);
}

// ---- recovery ---------------------------------------------------------------------------------

platform::result<bool> spool::recover() {
  const std::string& dir = options_.dir;
  if (auto text = platform::read_file(dir + "/keys", 1 << 20)) {
    sp::SpoolKeys k;
    if (k.ParseFromString(*text)) {
      for (const auto& [purpose, id] : k.current()) current_key_[purpose] = id;
    }
  }
  std::vector<std::uint64_t> indices;
  // A directory that cannot be read is an error, never "no segments": starting over would
  // overwrite segment 1.
  auto names = platform::list_directory(dir);
  if (!names) return platform::error{names.error_message()};
  for (const auto& name : *names) {
    if (name.size() == 24 && name.substr(20) == ".seg")
      indices.push_back(std::strtoull(name.c_str(), nullptr, 10));
  }
  std::sort(indices.begin(), indices.end());
  position cursor{indices.empty() ? 1 : indices.front(), 0};
  std::uint64_t cursor_next_seq = 1;
  if (auto text = platform::read_file(dir + "/cursor", 4096)) {
    sp::SpoolCursor c;
    if (c.ParseFromString(*text)) {
      cursor = {c.segment(), c.offset()};
      cursor_next_seq = c.next_seq();
    }
  }
  for (std::uint64_t index : indices) {
    segment s;
    s.index = index;
    s.path = dir + "/" + segment_name(index);
    if (index < cursor.segment) {  // acknowledged whole: reclamation was cut short
      ::unlink(s.path.c_str());
      continue;
    }
    s.fd = ::open(s.path.c_str(), O_RDWR | O_CLOEXEC);
    if (s.fd < 0)
      return platform::error{s.path + ": cannot open spool segment: " + std::strerror(errno)};
    struct stat st {};
    ::fstat(s.fd, &st);
    s.size = static_cast<std::uint64_t>(st.st_size);
    segments_.push_back(std::move(s));
  }
  if (!segments_.empty() && segments_.front().index > cursor.segment)
    cursor = {segments_.front().index, 0};

  std::uint64_t max_seq = 0;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    segment& s = segments_[i];
    const bool last = i + 1 == segments_.size();
    std::uint64_t off = 0;
    while (off < s.size) {
      frame f;
      if (read_frame(s, off, f) == read_status::ok) {
        max_seq = std::max(max_seq, f.seq);
        if (!(position{s.index, off} < cursor)) ++pending_;
        off += f.length;
        continue;
      }
      const auto next = resync(s, off);
      if (!next && last) {
        platform::log_warning("spool: cutting a torn tail of ", s.size - off, " bytes off ",
                              s.path);
        if (::ftruncate(s.fd, static_cast<off_t>(off)) != 0) {
          return platform::error{s.path + ": cannot truncate torn tail: " + std::strerror(errno)};
        }
        ::fsync(s.fd);
        s.size = off;
        ++stats_.spool_torn_tails;
        break;
      }
      // Counted in spool_corrupt when the reader skips it (next()), not here as well.
      platform::log_warning("spool: skipping a corrupt record at ", s.path, " offset ", off);
      off = next ? *next : s.size;
    }
    total_bytes_ += s.size;
  }
  next_seq_ = std::max(max_seq + 1, cursor_next_seq);
  first_seq_this_run_ = next_seq_;
  appended_seq_ = durable_seq_ = next_seq_ - 1;
  read_ = cursor;
  if (segments_.empty()) {
    segment s;
    s.index = cursor.segment;
    s.path = dir + "/" + segment_name(s.index);
    s.fd = ::open(s.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s.fd < 0)
      return platform::error{s.path + ": cannot create spool segment: " + std::strerror(errno)};
    segments_.push_back(std::move(s));
    sync_dir(dir);
    read_ = {segments_.front().index, 0};
  }
  stats_.spool_recovered += pending_;
  if (pending_ > 0)
    platform::log_info("spool: ", pending_, " releases waiting from before the start");
  return true;
}

spool::read_status spool::read_frame(const segment& s, std::uint64_t offset, frame& f) const {
  if (offset + kHeaderBytes > s.size) return read_status::end;
  char header[kHeaderBytes];
  if (!pread_all(s.fd, header, sizeof header, offset)) return read_status::bad;
  if (std::memcmp(header, kMagic, 4) != 0) return read_status::bad;
  const std::uint32_t len = platform::get_u32le(header + 4);
  if (len < kMinBody || len > kMaxBody) return read_status::bad;
  if (offset + kHeaderBytes + len > s.size) return read_status::end;
  std::string body(len, '\0');
  if (!pread_all(s.fd, body.data(), len, offset + kHeaderBytes)) return read_status::bad;
  if (platform::crc32(body) != platform::get_u32le(header + 8)) return read_status::bad;
  f.seq = platform::get_u64le(body.data());
  f.key_id = platform::get_u64le(body.data() + 8);
  const std::size_t plen = static_cast<unsigned char>(body[16]);
  if (17 + plen + platform::aes_gcm::kNonceBytes + platform::aes_gcm::kTagBytes > len)
    return read_status::bad;
  f.purpose.assign(body.data() + 17, plen);
  std::memcpy(f.nonce.data(), body.data() + 17 + plen, platform::aes_gcm::kNonceBytes);
  f.sealed.assign(body.data() + 17 + plen + platform::aes_gcm::kNonceBytes,
                  len - 17 - plen - platform::aes_gcm::kNonceBytes);
  f.length = kHeaderBytes + len;
  return read_status::ok;
}

std::optional<std::uint64_t> spool::resync(const segment& s, std::uint64_t from) const {
  if (from + 1 >= s.size) return std::nullopt;
  std::string rest(s.size - from - 1, '\0');
  if (!pread_all(s.fd, rest.data(), rest.size(), from + 1)) return std::nullopt;
  for (std::size_t i = rest.find(kMagic, 0, 4); i != std::string::npos;
       i = rest.find(kMagic, i + 1, 4)) {
    frame f;
    if (read_frame(s, from + 1 + i, f) == read_status::ok) return from + 1 + i;
  }
  return std::nullopt;
}

spool::segment* spool::find_segment(std::uint64_t index) {
  for (auto& s : segments_) {
    if (s.index == index) return &s;
  }
  return nullptr;
}

// ---- keys -------------------------------------------------------------------------------------

platform::aes_gcm* spool::cipher_locked(std::uint64_t key_id, std::string_view purpose) {
  if (auto it = ciphers_.find(key_id); it != ciphers_.end()) return it->second.get();
  auto key = keys_.get(key_name(purpose, key_id));
  auto& slot = ciphers_[key_id];
  if (key) slot = std::make_unique<platform::aes_gcm>(*key);
  return slot.get();
}

std::optional<std::uint64_t> spool::current_key_locked(std::string_view purpose, bool create) {
  if (auto it = current_key_.find(purpose);
      it != current_key_.end() && cipher_locked(it->second, purpose)) {
    return it->second;
  }
  if (!create) return std::nullopt;
  std::uint64_t id = 0;
  if (!platform::random_bytes({reinterpret_cast<std::uint8_t*>(&id), sizeof id}))
    return std::nullopt;
  auto key = keys_.create(key_name(purpose, id));
  if (!key) {
    platform::log_error("spool: cannot create a key for purpose ", purpose, ": ",
                        key.error_message());
    return std::nullopt;
  }
  ciphers_[id] = std::make_unique<platform::aes_gcm>(*key);
  current_key_[std::string(purpose)] = id;
  save_keys_locked();
  return id;
}

bool spool::save_keys_locked() {
  sp::SpoolKeys k;
  for (const auto& [purpose, id] : current_key_) (*k.mutable_current())[purpose] = id;
  auto r = platform::write_file_atomic(options_.dir + "/keys", k.SerializeAsString(), 0600);
  if (!r) platform::log_error("spool: ", r.error_message());
  return r.ok();
}

// ---- writing ----------------------------------------------------------------------------------

bool spool::roll_locked() {
  segment& active = segments_.back();
  if (options_.sync != spool_options::durability::none) ::fdatasync(active.fd);
  segment s;
  s.index = active.index + 1;
  s.path = options_.dir + "/" + segment_name(s.index);
  s.fd = ::open(s.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (s.fd < 0) {
    platform::log_error("spool: cannot create ", s.path, ": ", std::strerror(errno));
    return false;
  }
  segments_.push_back(std::move(s));
  sync_dir(options_.dir);
  return true;
}

bool spool::write_frame_locked(std::string_view purpose, std::uint64_t key_id,
                               const std::string& plaintext, bool wake_reader, spool_entry* fresh) {
  platform::aes_gcm* cipher = cipher_locked(key_id, purpose);
  platform::aes_gcm::nonce nonce{};
  if (cipher == nullptr || purpose.size() > 255 || !nonces_.next(nonce)) return false;
  const std::uint64_t seq = next_seq_;
  std::string body;
  body.reserve(kMinBody + purpose.size() + plaintext.size());
  platform::put_u64le(body, seq);
  platform::put_u64le(body, key_id);
  body += static_cast<char>(purpose.size());
  body.append(purpose);
  body.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  cipher->seal(nonce, associated_data(seq, key_id, purpose), plaintext, body);
  std::string frame_bytes(kMagic, 4);
  platform::put_u32le(frame_bytes, static_cast<std::uint32_t>(body.size()));
  platform::put_u32le(frame_bytes, platform::crc32(body));
  frame_bytes += body;

  segment& active = segments_.back();
  if (!pwrite_all(active.fd, frame_bytes.data(), frame_bytes.size(), active.size)) {
    platform::log_error("spool: cannot write to ", active.path, ": ", std::strerror(errno));
    [[maybe_unused]] int rc = ::ftruncate(active.fd, static_cast<off_t>(active.size));
    return false;
  }
  if (fresh != nullptr) {
    if (tail_.size() >= kTailCacheMax) tail_.pop_front();
    fresh->seq = seq;
    tail_.push_back({{active.index, active.size}, frame_bytes.size(), key_id, std::move(*fresh)});
  }
  ++next_seq_;
  active.size += frame_bytes.size();
  total_bytes_ += frame_bytes.size();
  appended_seq_ = seq;
  ++pending_;
  ++stats_.spool_appended;
  if (options_.sync == spool_options::durability::none) durable_seq_ = seq;  // each: append() syncs
  if (options_.sync == spool_options::durability::batch) wake_background_locked();
  if (active.size >= options_.segment_bytes) roll_locked();
  notify_changed_locked();
  if (wake_reader) wake_reader_locked();
  return true;
}

std::uint64_t spool::append(std::string_view purpose, std::string_view topic,
                            std::string_view payload, std::int64_t expires_at_ms,
                            std::string_view device_id, std::string_view device_class,
                            std::int64_t now_ms, clock::time_point deadline, append_mode mode) {
  const bool solo = mode == append_mode::solo;
  sp::SpoolRecord r;
  r.set_topic(std::string(topic));
  r.set_payload(std::string(payload));
  r.set_expires_at_ms(expires_at_ms);
  r.set_device_ref(device_ref(device_id));
  r.set_device_class(std::string(device_class));
  r.set_created_at_ms(now_ms);
  const std::string plaintext = r.SerializeAsString();
  const std::uint64_t frame_bytes = kHeaderBytes + kMinBody + purpose.size() + plaintext.size();

  std::unique_lock lock(mu_);
  const std::uint64_t limit =
      options_.max_bytes + (options_.drop_oldest ? 0 : options_.headroom_bytes);
  const auto room = [&] {
    return closed_ || total_bytes_ == 0 || total_bytes_ + frame_bytes <= limit;
  };
  while (!room()) {
    if (options_.drop_oldest) {
      const std::uint64_t before = total_bytes_;
      drop_oldest_locked();
      if (total_bytes_ == before) break;  // nothing left to drop: admit
      continue;
    }
    ++waiters_;
    const bool got_room = changed_.wait_until(lock, deadline, room);
    --waiters_;
    if (!got_room) {
      // refuse_new, beyond the headroom: the ingress checks full() before it takes a message, so
      // only a single message with releases larger than the headroom gets here. It is already
      // taken (its acknowledgement is owed to the broker): refusing it would lose it. Admit it,
      // counted.
      ++stats_.spool_refused_full;
      if (!over_limit_logged_) {
        platform::log_warning("spool: beyond max_bytes + headroom (", total_bytes_,
                              " bytes): taking a message whose releases exceed the headroom");
        over_limit_logged_ = true;
      }
      break;
    }
  }
  if (total_bytes_ < options_.max_bytes) over_limit_logged_ = false;
  if (closed_) return 0;
  const auto key = current_key_locked(purpose, true);
  spool_entry fresh;
  fresh.purpose = purpose;
  fresh.topic = topic;
  fresh.payload = payload;
  fresh.expires_at_ms = expires_at_ms;
  if (!key || !write_frame_locked(purpose, *key, plaintext, solo, &fresh)) return 0;
  const std::uint64_t seq = appended_seq_;
  if (solo && options_.sync == spool_options::durability::each) {
    lock.unlock();
    sync_appended();  // outside the lock, so that the egress goes on meanwhile
  }
  return seq;
}

bool spool::sync_appended() {
  if (options_.sync != spool_options::durability::each) return true;
  std::unique_lock lock(mu_);
  if (closed_ || segments_.empty() || durable_seq_ >= appended_seq_) return true;
  // The active segment is never closed under us (only segments behind the cursor are); after a
  // roll, roll_locked() synced the segments before it.
  const int fd = segments_.back().fd;
  const std::uint64_t seq = appended_seq_;
  lock.unlock();
  if (::fdatasync(fd) != 0) {
    platform::log_error("spool: fdatasync failed (", std::strerror(errno), ")");
    return false;
  }
  lock.lock();
  durable_seq_ = std::max(durable_seq_, seq);
  notify_changed_locked();
  return true;
}

bool spool::wait_durable(std::uint64_t seq, clock::time_point deadline) {
  std::unique_lock lock(mu_);
  ++waiters_;
  changed_.wait_until(lock, deadline, [&] { return durable_seq_ >= seq || closed_; });
  --waiters_;
  return durable_seq_ >= seq;
}

void spool::drop_oldest_locked() {
  tail_.clear();
  if (segments_.size() == 1) {
    if (segments_.front().size == 0 || !roll_locked()) return;
  }
  segment s = std::move(segments_.front());
  segments_.pop_front();
  const position cursor = cursor_locked();
  std::uint64_t dropped = 0;
  if (cursor < position{s.index, s.size}) {  // it holds records not yet acknowledged
    std::uint64_t off = cursor.segment == s.index ? cursor.offset : 0;
    while (off < s.size) {
      frame f;
      if (read_frame(s, off, f) != read_status::ok) {
        const auto next = resync(s, off);
        if (!next) break;
        off = *next;
        continue;
      }
      off += f.length;
      if (inflight_.erase(f.seq) > 0)
        continue;  // already sent; its acknowledgement will find nothing
      if (f.seq <= max_read_seq_ && rewound_.count(f.seq) == 0) continue;  // handled before
      rewound_.erase(f.seq);
      ++dropped;
    }
  }
  if (read_.segment == s.index) read_ = {segments_.front().index, 0};
  ::close(s.fd);
  ::unlink(s.path.c_str());
  total_bytes_ -= s.size;
  pending_ -= std::min(pending_, dropped);
  stats_.spool_dropped_full += dropped;
  if (dropped > 0)
    platform::log_warning("spool full: dropped the ", dropped, " oldest unsent releases");
  advance_cursor_locked();
}

// ---- reading ----------------------------------------------------------------------------------

bool spool::at_end_locked() const {
  const segment& last = segments_.back();
  return read_.segment >= last.index && read_.offset >= last.size;
}

// Wakes whoever waits in append() for room, in wait_durable() or in wait_empty() — only if someone
// does: a wake-up per record costs more than the record on a small box.
void spool::notify_changed_locked() {
  if (waiters_ > 0) changed_.notify_all();
}

// Wakes background() when it sleeps for want of work, once.
void spool::wake_background_locked() {
  if (!background_idle_) return;
  background_idle_ = false;
  background_cv_.notify_one();
}

// Wakes the reader waiting in next() only when it can now go on.
void spool::wake_reader_locked() {
  if (readers_waiting_ > 0 && inflight_.size() < reader_max_inflight_ && !at_end_locked())
    reader_cv_.notify_all();
}

spool::position spool::cursor_locked() const {
  return inflight_.empty() ? read_ : inflight_.begin()->second;
}

void spool::advance_cursor_locked() {
  const position cursor = cursor_locked();
  while (segments_.size() > 1 && segments_.front().index < cursor.segment) {
    segment& s = segments_.front();
    ::close(s.fd);
    ::unlink(s.path.c_str());
    total_bytes_ -= s.size;
    segments_.pop_front();
  }
  cursor_dirty_ = true;
  wake_background_locked();
  notify_changed_locked();
  wake_reader_locked();
}

std::optional<spool_entry> spool::next(clock::time_point deadline, std::size_t max_inflight,
                                       std::int64_t now_ms) {
  std::unique_lock lock(mu_);
  while (true) {
    if (closed_) return std::nullopt;
    if (inflight_.size() >= max_inflight || at_end_locked()) {
      if (!wait_ready_locked(lock, deadline, max_inflight)) return std::nullopt;
      continue;
    }
    segment* s = find_segment(read_.segment);
    if (s == nullptr) {  // its segment was dropped: continue with the oldest one left
      read_ = {segments_.front().index, 0};
      continue;
    }
    if (read_.offset >= s->size) {
      read_ = {s->index + 1, 0};
      continue;
    }
    auto skip = [&](std::atomic<std::uint64_t>* counter) {
      if (counter) ++*counter;
      if (pending_ > 0) --pending_;
      advance_cursor_locked();
    };
    while (!tail_.empty() && tail_.front().pos < read_) tail_.pop_front();  // read from disk since
    if (!tail_.empty() && tail_.front().pos == read_) {  // just written: no read, no decryption
      cached_record c = std::move(tail_.front());
      tail_.pop_front();
      const position here = read_;
      read_.offset += c.length;
      const std::uint64_t seq = c.entry.seq;
      const bool rewound = rewound_.erase(seq) > 0;
      if (seq <= max_read_seq_ && !rewound) {
        advance_cursor_locked();
        continue;
      }
      max_read_seq_ = std::max(max_read_seq_, seq);
      if (cipher_locked(c.key_id, c.entry.purpose) == nullptr) {
        skip(nullptr);
        continue;
      }
      if (c.entry.expires_at_ms < now_ms) {
        skip(&stats_.expired);
        continue;
      }
      inflight_.emplace(seq, here);
      c.entry.resend = rewound || seq < first_seq_this_run_;
      return std::move(c.entry);
    }
    frame f;
    if (read_frame(*s, read_.offset, f) != read_status::ok) {
      ++stats_.spool_corrupt;
      const auto next_frame = resync(*s, read_.offset);
      read_.offset = next_frame ? *next_frame : s->size;
      advance_cursor_locked();
      continue;
    }
    const position here = read_;
    read_.offset += f.length;
    const bool rewound = rewound_.erase(f.seq) > 0;
    if (f.seq <= max_read_seq_ && !rewound) {  // acknowledged or skipped before a rewind
      advance_cursor_locked();
      continue;
    }
    max_read_seq_ = std::max(max_read_seq_, f.seq);
    platform::aes_gcm* cipher = cipher_locked(f.key_id, f.purpose);
    if (cipher == nullptr) {  // its key was destroyed: crypto-shredded, counted by purge()
      skip(nullptr);
      continue;
    }
    std::string plaintext;
    sp::SpoolRecord r;
    if (!cipher->open(f.nonce, associated_data(f.seq, f.key_id, f.purpose), f.sealed, plaintext) ||
        !r.ParseFromString(plaintext)) {
      platform::log_warning("spool: record ", f.seq, " failed authentication; never sent");
      skip(&stats_.spool_corrupt);
      continue;
    }
    if (r.expires_at_ms() < now_ms) {
      skip(&stats_.expired);
      continue;
    }
    inflight_.emplace(f.seq, here);
    spool_entry e;
    e.seq = f.seq;
    e.purpose = std::move(f.purpose);
    e.topic = r.topic();
    e.payload = r.payload();
    e.expires_at_ms = r.expires_at_ms();
    e.resend = rewound || f.seq < first_seq_this_run_;
    return e;
  }
}

bool spool::wait_ready(clock::time_point deadline, std::size_t max_inflight) {
  std::unique_lock lock(mu_);
  return wait_ready_locked(lock, deadline, max_inflight);
}

bool spool::wait_ready_locked(std::unique_lock<std::mutex>& lock, clock::time_point deadline,
                              std::size_t max_inflight) {
  ++readers_waiting_;
  reader_max_inflight_ = max_inflight;
  const bool ready = reader_cv_.wait_until(lock, deadline, [&] {
    return closed_ || readers_stopped_ || (inflight_.size() < max_inflight && !at_end_locked());
  });
  --readers_waiting_;
  return ready && !closed_ && !readers_stopped_;
}

void spool::stop_readers() {
  std::lock_guard lock(mu_);
  readers_stopped_ = true;
  reader_cv_.notify_all();
}

void spool::wake_reader() {
  std::lock_guard lock(mu_);
  wake_reader_locked();
}

void spool::acknowledge(std::uint64_t seq) {
  std::lock_guard lock(mu_);
  if (inflight_.erase(seq) > 0 || rewound_.erase(seq) > 0) {
    if (pending_ > 0) --pending_;
    advance_cursor_locked();
  }
}

void spool::rewind() {
  std::lock_guard lock(mu_);
  if (inflight_.empty()) return;
  read_ = inflight_.begin()->second;
  for (const auto& [seq, pos] : inflight_) rewound_.insert(seq);
  inflight_.clear();
  notify_changed_locked();
  wake_reader_locked();
}

// ---- purge ------------------------------------------------------------------------------------

std::size_t spool::purge(std::string_view purpose, scope s, std::string_view value) {
  std::lock_guard lock(mu_);
  tail_.clear();  // it may hold what is to be destroyed; the survivors are re-read from disk
  const std::string ref = s == scope::device ? device_ref(value) : "";
  std::set<std::uint64_t> old_keys;
  if (auto it = current_key_.find(purpose); it != current_key_.end()) old_keys.insert(it->second);
  std::vector<std::string> survivors;
  std::size_t destroyed = 0;
  const position cursor = cursor_locked();
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    const segment& seg = segments_[i];
    if (seg.index < cursor.segment) continue;
    std::uint64_t off = seg.index == cursor.segment ? cursor.offset : 0;
    while (off < seg.size) {
      frame f;
      if (read_frame(seg, off, f) != read_status::ok) {
        const auto next_frame = resync(seg, off);
        if (!next_frame) break;
        off = *next_frame;
        continue;
      }
      off += f.length;
      if (f.purpose != purpose) continue;
      const bool in_flight = inflight_.count(f.seq) > 0;
      if (!in_flight && f.seq <= max_read_seq_ && rewound_.count(f.seq) == 0) continue;  // handled
      platform::aes_gcm* cipher = cipher_locked(f.key_id, f.purpose);
      if (cipher == nullptr) continue;  // already shredded
      old_keys.insert(f.key_id);
      if (s == scope::household) {
        if (!in_flight) ++destroyed;
        continue;
      }
      std::string plaintext;
      sp::SpoolRecord r;
      if (!cipher->open(f.nonce, associated_data(f.seq, f.key_id, f.purpose), f.sealed,
                        plaintext) ||
          !r.ParseFromString(plaintext)) {
        continue;
      }
      const bool matches = s == scope::device ? r.device_ref() == ref : r.device_class() == value;
      if (matches) {
        if (!in_flight) ++destroyed;
      } else {
        survivors.push_back(std::move(plaintext));  // in flight too: it may not arrive
      }
    }
  }
  current_key_.erase(std::string(purpose));
  if (!survivors.empty()) {
    const auto key = current_key_locked(purpose, true);
    for (const auto& p : survivors) {
      if (!key || !write_frame_locked(purpose, *key, p)) {
        platform::log_error(
            "spool: could not re-seal a waiting release during a purge; it is lost");
      }
    }
  }
  for (std::uint64_t id : old_keys) {
    keys_.destroy(key_name(purpose, id));
    ciphers_[id] = nullptr;
  }
  save_keys_locked();
  if (options_.sync != spool_options::durability::none) ::fdatasync(segments_.back().fd);
  // Re-sealed survivors: synced just now (or never synced, with none).
  durable_seq_ = appended_seq_;
  pending_ -= std::min<std::uint64_t>(pending_, destroyed + survivors.size());
  stats_.spool_purged += destroyed;
  notify_changed_locked();
  wake_reader_locked();
  return destroyed;
}

// ---- lifecycle --------------------------------------------------------------------------------

void spool::save_cursor() {
  sp::SpoolCursor c;
  {
    std::lock_guard lock(mu_);
    const position p = cursor_locked();
    c.set_segment(p.segment);
    c.set_offset(p.offset);
    c.set_next_seq(next_seq_);
    cursor_dirty_ = false;
  }
  if (auto r = platform::write_file_atomic(options_.dir + "/cursor", c.SerializeAsString(), 0600);
      !r) {
    platform::log_error("spool: ", r.error_message());
  }
}

void spool::background() {
  const auto interval = options_.sync == spool_options::durability::batch
                            ? std::min(options_.batch_interval, kCursorSaveInterval)
                            : kCursorSaveInterval;
  const bool batch = options_.sync == spool_options::durability::batch;
  auto next_cursor_save = clock::now() + kCursorSaveInterval;
  std::unique_lock lock(mu_);
  while (!closed_) {
    // An idle gateway has nothing to sync or save: sleep until an append or an acknowledgement
    // brings some, instead of waking every interval. Then wait the interval as before, so that
    // one sync covers what arrives meanwhile (a release is synced within batch_ms of its append).
    background_idle_ = true;
    background_cv_.wait(
        lock, [&] { return closed_ || (batch && appended_seq_ > durable_seq_) || cursor_dirty_; });
    background_idle_ = false;
    background_cv_.wait_for(lock, interval, [&] { return closed_; });
    if (batch && appended_seq_ > durable_seq_) {
      const std::uint64_t target = appended_seq_;
      const int fd = segments_.back().fd;
      lock.unlock();
      ::fdatasync(fd);
      lock.lock();
      durable_seq_ = std::max(durable_seq_, target);
      notify_changed_locked();
    }
    if (cursor_dirty_ && clock::now() >= next_cursor_save) {
      lock.unlock();
      save_cursor();
      lock.lock();
      next_cursor_save = clock::now() + kCursorSaveInterval;
    }
  }
}

bool spool::wait_empty(clock::time_point deadline) {
  std::unique_lock lock(mu_);
  const auto empty = [&] {
    const segment& last = segments_.back();
    return inflight_.empty() && read_.segment >= last.index && read_.offset >= last.size;
  };
  ++waiters_;
  const bool done = changed_.wait_until(lock, deadline, empty);
  --waiters_;
  return done;
}

void spool::close() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    changed_.notify_all();
    reader_cv_.notify_all();
    background_cv_.notify_all();
  }
  if (background_.joinable()) background_.join();
  {
    std::lock_guard lock(mu_);
    if (!segments_.empty() && options_.sync != spool_options::durability::none)
      ::fdatasync(segments_.back().fd);
    durable_seq_ = appended_seq_;
  }
  save_cursor();
}

std::uint64_t spool::bytes() const {
  std::lock_guard lock(mu_);
  return total_bytes_;
}

bool spool::full() const {
  std::lock_guard lock(mu_);
  return total_bytes_ >= options_.max_bytes;
}

std::uint64_t spool::pending() const {
  std::lock_guard lock(mu_);
  return pending_;
}

std::size_t spool::inflight() const {
  std::lock_guard lock(mu_);
  return inflight_.size();
}

}  // namespace portier::gateway
