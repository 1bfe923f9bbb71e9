#include "gateway/store/ledger.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <tuple>

#include "gateway/digest.h"
#include "ledger.pb.h"
#include "platform/aes_gcm.h"
#include "platform/file.h"
#include "platform/hmac_sha256.h"
#include "platform/log.h"
#include "platform/random.h"
#include "policies/json_text.h"

namespace portier::gateway {

namespace lp = ::portier::ledger;

namespace {

constexpr char kMagic[4] = {'P', 'T', 'L', '1'};
constexpr std::size_t kFrameHeader = 4 + 4 + 32;  // magic, body length, hash
constexpr std::uint32_t kMaxBody = 1u << 20;
constexpr char kHeadFormat[] = "portier.ledger-head.v1";
constexpr char kSuffix[] = ".ledger";
constexpr std::size_t kSegmentNameLength = 20 + sizeof kSuffix - 1;
constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::uint64_t kKeyFileBytesPerDevice = 100;
// Finished minutes waiting for flush(): beyond these the oldest is dropped (and counted).
constexpr std::size_t kMaxQueuedBatches = 8;
constexpr std::size_t kEvictedIdsPerEntry = 4096;
constexpr std::size_t kMaxPseudonyms = 256;
const std::string kZeroHash(32, '\0');

std::int64_t minute_of(std::int64_t ms) {
  return ms <= 0 ? 0 : ms - ms % kMinuteMs;
}

std::string segment_name(std::uint64_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(index));
  return buf + std::string(kSuffix);
}

std::string key_name(std::uint64_t key_id) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "ledger-device-%016llx", static_cast<unsigned long long>(key_id));
  return buf;
}

std::string device_aad(std::uint64_t key_id) {
  std::string aad = "portier/ledger-device/v1/";
  for (int i = 0; i < 8; ++i) aad += static_cast<char>((key_id >> (8 * i)) & 0xFF);
  return aad;
}

bool valid_device(std::string_view id) {
  return !id.empty() && id.size() <= 256 && id.find('\0') == std::string_view::npos &&
         policies::valid_utf8(id);
}

// The kind of a decoded entry; an eviction (never read out) counts as none of them.
std::optional<ledger_record::kind> kind_of(const lp::LedgerEntry& e) {
  switch (e.kind_case()) {
    case lp::LedgerEntry::kRelease:
      return ledger_record::kind::release;
    case lp::LedgerEntry::kDrops:
      return ledger_record::kind::drops;
    case lp::LedgerEntry::kConsent:
      return ledger_record::kind::consent;
    case lp::LedgerEntry::kPolicy:
      return ledger_record::kind::policy;
    case lp::LedgerEntry::kErasure:
      return ledger_record::kind::erasure;
    case lp::LedgerEntry::kAccess:
      return ledger_record::kind::access;
    default:
      return std::nullopt;
  }
}

// Text the ledger keeps must be UTF-8 (proto3 strings) and short.
std::string clean_text(std::string_view s, std::size_t max) {
  std::string out(s.substr(0, max));
  if (!policies::valid_utf8(out)) {
    for (char& c : out) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
  }
  return out;
}

void sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

bool write_all(int fd, std::string_view data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// An unreadable directory is an error, never "no segments".
platform::result<std::vector<std::pair<std::uint64_t, std::string>>> list_segments(
    const std::string& dir) {
  auto names = platform::list_directory(dir);
  if (!names) return platform::error{names.error_message()};
  std::vector<std::pair<std::uint64_t, std::string>> out;
  for (const auto& name : *names) {
    if (name.size() != kSegmentNameLength || name.substr(20) != kSuffix) continue;
    if (!std::all_of(name.begin(), name.begin() + 20, [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    out.emplace_back(std::strtoull(name.c_str(), nullptr, 10), dir + "/" + name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

// One frame read back: an entry, or the place where a segment stopped being readable.
struct ledger::parsed_frame {
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bool bad = false;  // the rest of this segment cannot be read
  std::string why;   // when bad
  std::string hash;  // as stored
  std::string body;
  lp::LedgerEntry entry;
};

namespace {

// Splits a segment into frames; stops at the first unreadable one (a bad frame at the end).
template <typename Frame>
void parse_segment(std::uint64_t index, std::string_view bytes, std::vector<Frame>& out) {
  std::uint64_t off = 0;
  while (off < bytes.size()) {
    Frame f;
    f.segment = index;
    f.offset = off;
    const std::string_view rest = bytes.substr(off);
    std::uint32_t length = 0;
    if (rest.size() >= 8) {
      for (int i = 7; i >= 4; --i) length = (length << 8) | static_cast<unsigned char>(rest[i]);
    }
    if (rest.size() < kFrameHeader) {
      f.why = "a partial frame";
    } else if (std::memcmp(rest.data(), kMagic, sizeof kMagic) != 0) {
      f.why = "no frame marker";
    } else if (length > kMaxBody || kFrameHeader + length > rest.size()) {
      f.why = "a frame longer than what follows";
    } else {
      f.hash.assign(rest.substr(8, 32));
      f.body.assign(rest.substr(kFrameHeader, length));
      if (!f.entry.ParseFromString(f.body)) f.why = "an entry that cannot be decoded";
    }
    if (!f.why.empty()) {
      f.bad = true;
      f.length = rest.size();
      out.push_back(std::move(f));
      return;
    }
    f.length = kFrameHeader + length;
    off += f.length;
    out.push_back(std::move(f));
  }
}

}  // namespace

std::string_view ledger_problem_name(ledger_problem p) {
  switch (p) {
    case ledger_problem::none:
      return "ok";
    case ledger_problem::corrupt:
      return "corrupt";
    case ledger_problem::edited:
      return "edited";
    case ledger_problem::removed:
      return "removed";
    case ledger_problem::reordered:
      return "reordered";
    case ledger_problem::broken_link:
      return "broken_link";
    case ledger_problem::truncated:
      return "truncated";
    case ledger_problem::head_mismatch:
      return "head_mismatch";
  }
  return "unknown";
}

ledger::ledger(ledger_options options, platform::key_directory& keys,
               std::span<const std::uint8_t> secret)
    : options_(std::move(options)), keys_(keys), secret_(secret.begin(), secret.end()) {
  options_.segment_bytes = std::max<std::uint64_t>(options_.segment_bytes, 4096);
  options_.max_bytes = std::max<std::uint64_t>(options_.max_bytes, 2 * options_.segment_bytes);
  options_.max_open_keys = std::max<std::size_t>(options_.max_open_keys, 1);
  // The keys file takes at most a quarter of the budget (kKeyFileBytesPerDevice each).
  options_.max_devices = std::clamp<std::size_t>(
      options_.max_devices, 1,
      std::max<std::uint64_t>(1, options_.max_bytes / 4 / kKeyFileBytesPerDevice));
  last_hash_ = kZeroHash;
  anchor_prev_ = kZeroHash;
}

platform::result<std::unique_ptr<ledger>> ledger::open(ledger_options options,
                                                       platform::key_directory& keys,
                                                       std::span<const std::uint8_t> secret) {
  if (::mkdir(options.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return platform::error{options.dir +
                           ": cannot create ledger directory: " + std::strerror(errno)};
  }
  std::unique_ptr<ledger> l(new ledger(std::move(options), keys, secret));
  std::lock_guard lock(l->mu_);
  if (auto r = l->recover(); !r) return platform::error{r.error_message()};
  return l;
}

ledger::~ledger() {
  std::lock_guard lock(mu_);
  write_queued_locked(last_now_ms_, true);
  if (fd_ >= 0) ::close(fd_);
}

// ---- recovery ---------------------------------------------------------------------------------

platform::result<bool> ledger::recover() {
  const std::string& dir = options_.dir;
  auto table = ledger_device_keys::open(dir + "/device-keys", options_.max_devices);
  if (!table) return platform::error{table.error_message()};
  keys_table_ = std::move(*table);
  if (auto m = migrate_legacy_keys(); !m) return m;

  bool have_head = false;
  std::string head_path = dir + "/head";
  if (auto text = platform::read_file(head_path, 4096)) {
    lp::LedgerHead head;
    if (head.ParseFromString(*text) && head.format() == kHeadFormat &&
        head.last_hash().size() == 32 && head.anchor_prev_hash().size() == 32) {
      have_head = true;
      last_seq_ = head.last_seq();
      last_hash_ = head.last_hash();
      anchor_seq_ = std::max<std::uint64_t>(head.anchor_seq(), 1);
      anchor_prev_ = head.anchor_prev_hash();
    } else {
      platform::log_warning("ledger: ", head_path, " cannot be decoded");
    }
  }

  std::vector<parsed_frame> frames;
  const auto listed = list_segments(dir);
  if (!listed) return platform::error{listed.error_message()};
  const auto& files = *listed;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& [index, path] = files[i];
    auto bytes = platform::read_file(path, options_.max_bytes + 2 * kMaxBody);
    if (!bytes) return platform::error{bytes.error_message()};
    segment s;
    s.index = index;
    s.path = path;
    s.size = bytes->size();
    const std::size_t before = frames.size();
    parse_segment(index, *bytes, frames);
    for (std::size_t k = before; k < frames.size(); ++k) {
      const parsed_frame& f = frames[k];
      if (f.bad) break;
      if (s.first_seq == 0) {
        s.first_seq = f.entry.seq();
        s.first_prev = f.entry.prev_hash();
      }
      s.last_seq = f.entry.seq();
    }
    const bool last_file = i + 1 == files.size();
    if (frames.size() > before && frames.back().bad && last_file) {
      // A power cut during a write leaves a torn frame after the last committed entry: cut it
      // off. A bad frame before committed entries is damage, left for verify() to report.
      std::uint64_t max_good = 0;
      for (const auto& f : frames) {
        if (!f.bad) max_good = std::max<std::uint64_t>(max_good, f.entry.seq());
      }
      const bool committed_intact = !have_head || max_good >= last_seq_;
      if (committed_intact) {
        const std::uint64_t cut = frames.back().offset;
        platform::log_warning("ledger: cutting a torn tail of ", s.size - cut, " bytes off ", path);
        if (::truncate(path.c_str(), static_cast<off_t>(cut)) != 0) {
          return platform::error{path + ": cannot cut a torn tail: " + std::strerror(errno)};
        }
        s.size = cut;
        frames.pop_back();
      }
    }
    segments_.push_back(std::move(s));
  }

  // Segments wholly before the anchor: their deletion was cut short.
  while (have_head && segments_.size() > 1 && segments_.front().last_seq != 0 &&
         segments_.front().last_seq < anchor_seq_) {
    ::unlink(segments_.front().path.c_str());
    segments_.pop_front();
  }
  std::erase_if(frames, [&](const parsed_frame& f) {
    return !segments_.empty() && f.segment < segments_.front().index;
  });

  std::vector<const parsed_frame*> good;
  for (const auto& f : frames) {
    if (!f.bad) good.push_back(&f);
  }
  if (!have_head && good.empty()) {
    // A new ledger: the head exists from now on and is only ever replaced, so entries without a
    // head mean it was removed.
    if (!write_head_locked()) return platform::error{head_path + ": cannot write the ledger head"};
    have_head = true;
  } else if (!have_head) {
    platform::log_warning("ledger: ", head_path,
                          " is missing while entries exist; verify() will report it");
    head_lost_ = true;
    anchor_seq_ = good.front()->entry.seq();
    anchor_prev_ = good.front()->entry.prev_hash();
    last_seq_ = good.back()->entry.seq();
    last_hash_ = good.back()->hash;
  } else {
    // Whole entries after the head: written and synced, the head update did not happen.
    std::uint64_t adopted = 0;
    for (const parsed_frame* f : good) {
      if (f->entry.seq() <= last_seq_) continue;
      const digest256 h = sha256(f->entry.prev_hash(), f->body);
      if (f->entry.seq() != last_seq_ + 1 || f->entry.prev_hash() != last_hash_ ||
          as_bytes(h) != f->hash)
        break;
      last_seq_ = f->entry.seq();
      last_hash_ = f->hash;
      ++adopted;
    }
    if (adopted > 0) {
      platform::log_info("ledger: adopted ", adopted,
                         " entries written after the last head update");
      if (!write_head_locked())
        return platform::error{head_path + ": cannot write the ledger head"};
    }
  }

  for (const auto& s : segments_) total_bytes_ += s.size;
  if (!segments_.empty()) {
    const segment& s = segments_.back();
    fd_ = ::open(s.path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd_ < 0)
      return platform::error{s.path + ": cannot open ledger segment: " + std::strerror(errno)};
  }
  return true;
}

// ---- writing ----------------------------------------------------------------------------------

bool ledger::write_head_locked() {
  lp::LedgerHead head;
  head.set_format(kHeadFormat);
  head.set_last_seq(last_seq_);
  head.set_last_hash(last_hash_);
  head.set_anchor_seq(anchor_seq_);
  head.set_anchor_prev_hash(anchor_prev_);
  auto w = platform::write_file_atomic(options_.dir + "/head", head.SerializeAsString(), 0600);
  if (!w) {
    platform::log_error("ledger: ", w.error_message());
    ++write_errors_;
  }
  return w.ok();
}

bool ledger::append_locked(std::vector<lp::LedgerEntry>& entries) {
  if (entries.empty()) return true;
  bool ok = true;
  std::uint64_t written = 0;
  for (auto& e : entries) {
    e.set_seq(last_seq_ + 1);
    e.set_prev_hash(last_hash_);
    const std::string body = e.SerializeAsString();
    if (body.size() > kMaxBody) {
      platform::log_error("ledger: an entry of ", body.size(),
                          " bytes is over the limit; not written");
      ++write_errors_;
      continue;
    }
    const digest256 h = sha256(last_hash_, body);
    std::string frame(kMagic, sizeof kMagic);
    const auto n = static_cast<std::uint32_t>(body.size());
    for (int i = 0; i < 4; ++i) frame += static_cast<char>((n >> (8 * i)) & 0xFF);
    frame += as_bytes(h);
    frame += body;

    if (segments_.empty() || (segments_.back().size > 0 &&
                              segments_.back().size + frame.size() > options_.segment_bytes)) {
      if (fd_ >= 0) {
        ::fsync(fd_);
        ::close(fd_);
        fd_ = -1;
      }
      segment s;
      s.index = segments_.empty() ? 1 : segments_.back().index + 1;
      s.path = options_.dir + "/" + segment_name(s.index);
      fd_ = ::open(s.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
      if (fd_ < 0) {
        platform::log_error("ledger: ", s.path, ": cannot create segment: ", std::strerror(errno));
        ++write_errors_;
        ok = false;
        break;
      }
      sync_dir(options_.dir);
      segments_.push_back(std::move(s));
    }
    segment& s = segments_.back();
    if (!write_all(fd_, frame)) {
      platform::log_error("ledger: ", s.path, ": cannot write: ", std::strerror(errno));
      ++write_errors_;
      // Leave no partial frame behind: the next entry must follow a whole one.
      if (::ftruncate(fd_, static_cast<off_t>(s.size)) != 0) {
        platform::log_error("ledger: ", s.path,
                            ": cannot cut a partial write: ", std::strerror(errno));
      }
      ok = false;
      break;
    }
    if (s.first_seq == 0) {
      s.first_seq = e.seq();
      s.first_prev = last_hash_;
    }
    s.last_seq = e.seq();
    s.size += frame.size();
    total_bytes_ += frame.size();
    last_seq_ = e.seq();
    last_hash_.assign(as_bytes(h));
    ++written;
  }
  if (written == 0) return ok;
  if (fd_ >= 0 && ::fsync(fd_) != 0) {
    platform::log_error("ledger: cannot fsync ", segments_.back().path, ": ", std::strerror(errno));
    ++write_errors_;
    ok = false;
  }
  // Rotation moves the anchor first (in the head), then deletes: a crash in between leaves a
  // segment before the anchor, which recover() deletes.
  std::vector<std::string> doomed;
  while (total_bytes_ + keys_table_->file_bytes() > options_.max_bytes && segments_.size() > 1) {
    const segment& old = segments_.front();
    const segment& next = segments_[1];
    anchor_seq_ = next.first_seq != 0 ? next.first_seq : last_seq_ + 1;
    anchor_prev_ = next.first_seq != 0 ? next.first_prev : last_hash_;
    total_bytes_ -= old.size;
    doomed.push_back(old.path);
    segments_.pop_front();
  }
  if (!write_head_locked()) ok = false;
  for (const auto& path : doomed) ::unlink(path.c_str());
  if (!doomed.empty()) sync_dir(options_.dir);
  return ok;
}

std::string ledger::index_ref(std::string_view device_id) const {
  const auto mac =
      platform::hmac_sha256::mac(secret_, "portier/ledger-device/v1/" + std::string(device_id));
  return to_hex(mac.data(), 16);
}

std::optional<platform::key256> ledger::key_locked(std::uint64_t key_id) const {
  if (auto k = keys_table_->key(key_id)) return k;
  return keys_.get(key_name(key_id));  // a key file of an earlier version that had no index entry
}

platform::result<bool> ledger::migrate_legacy_keys() {
  const std::string index_path = options_.dir + "/devices";
  auto text = platform::read_file(index_path, 16 << 20);
  if (!text) return true;  // nothing to migrate
  lp::LedgerIndex index;
  if (!index.ParseFromString(*text)) {
    platform::log_warning("ledger: ", index_path,
                          " cannot be decoded; its keys stay where they are");
    return true;
  }
  std::vector<std::uint64_t> adopted;
  for (const auto& [ref, key_id] : index.devices()) {
    if (auto key = keys_.get(key_name(key_id))) {
      keys_table_->adopt(ref, {key_id, *key}, last_now_ms_);
      adopted.push_back(key_id);
    }
  }
  if (auto w = keys_table_->save(); !w) return platform::error{w.error_message()};
  for (std::uint64_t key_id : adopted) {
    if (keys_table_->key(key_id)) keys_.destroy(key_name(key_id));
  }
  ::unlink(index_path.c_str());
  sync_dir(options_.dir);
  platform::log_info("ledger: moved ", adopted.size(), " device keys into ", options_.dir,
                     "/device-keys");
  return true;
}

bool ledger::seal_device_locked(std::string_view device_id, bool create, std::int64_t now_ms,
                                std::vector<std::uint64_t>& evicted, lp::SealedDevice& out) {
  const auto k = keys_table_->get(index_ref(device_id), create, now_ms, evicted);
  if (!k) {
    if (create) ++write_errors_;
    return false;
  }
  platform::aes_gcm::nonce nonce{};
  if (!platform::random_bytes(nonce)) {
    ++write_errors_;
    return false;
  }
  std::string sealed;
  platform::aes_gcm(k->key).seal(nonce, device_aad(k->key_id), device_id, sealed);
  out.set_key_id(k->key_id);
  out.set_nonce(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  out.set_sealed(std::move(sealed));
  return true;
}

void ledger::record_evictions_locked(const std::vector<std::uint64_t>& evicted, std::int64_t now_ms,
                                     std::vector<lp::LedgerEntry>& entries) {
  if (evicted.empty()) return;
  if (options_.evicted_counter != nullptr) *options_.evicted_counter += evicted.size();
  for (std::size_t i = 0; i < evicted.size(); i += kEvictedIdsPerEntry) {
    lp::LedgerEntry& e = entries.emplace_back();
    e.set_time_ms(now_ms);
    auto* ev = e.mutable_eviction();
    for (std::size_t j = i; j < std::min(evicted.size(), i + kEvictedIdsPerEntry); ++j)
      ev->add_key_ids(evicted[j]);
  }
}

void ledger::note_time(std::int64_t now_ms) {
  std::int64_t seen = last_now_ms_.load();
  while (now_ms > seen && !last_now_ms_.compare_exchange_weak(seen, now_ms)) {
  }
}

void ledger::queue_open_agg_locked() {
  const bool any_drops =
      std::any_of(open_drops_.begin(), open_drops_.end(), [](auto n) { return n != 0; });
  if (open_.empty() && !any_drops) return;
  batch b;
  b.minute = open_minute_ < 0 ? minute_of(last_now_ms_) : open_minute_;
  b.open.swap(open_);
  b.drops = open_drops_;
  open_drops_.fill(0);
  queued_keys_ += b.open.size();
  queued_.push_back(std::move(b));
  // flush() has fallen behind (its thread is stuck, or the disk is): memory stays bounded.
  while (queued_.size() > kMaxQueuedBatches || queued_keys_ > 2 * options_.max_open_keys) {
    queued_keys_ -= queued_.front().open.size();
    queued_.pop_front();
    ++batches_dropped_;
    if (options_.dropped_counter != nullptr) ++*options_.dropped_counter;
  }
}

void ledger::roll_minute_agg_locked(std::int64_t now_ms) {
  const std::int64_t minute = minute_of(now_ms);
  if (open_minute_ < 0) {
    open_minute_ = minute;
  } else if (minute > open_minute_) {
    queue_open_agg_locked();
    open_minute_ = minute;
  }
}

bool ledger::idle_locked() const {
  return open_.empty() && queued_.empty() && queued_access_.empty() &&
         std::all_of(open_drops_.begin(), open_drops_.end(), [](auto n) { return n == 0; });
}

std::optional<std::int64_t> ledger::next_flush_ms() const {
  std::lock_guard lock(agg_mu_);
  if (!queued_.empty() || !queued_access_.empty()) return 0;
  if (idle_locked()) return std::nullopt;
  return (open_minute_ < 0 ? minute_of(last_now_ms_) : open_minute_) + kMinuteMs;
}

void ledger::write_queued_locked(std::int64_t now_ms, bool all) {
  std::vector<batch> batches;
  std::vector<access_entry> access;
  {
    std::lock_guard agg(agg_mu_);
    access.assign(std::make_move_iterator(queued_access_.begin()),
                  std::make_move_iterator(queued_access_.end()));
    queued_access_.clear();
    if (!all) roll_minute_agg_locked(now_ms);
    batches.reserve(queued_.size() + 1);
    for (auto& b : queued_) batches.push_back(std::move(b));
    queued_.clear();
    queued_keys_ = 0;
    if (batches_dropped_ != batches_dropped_logged_) {
      platform::log_warning("ledger: ", batches_dropped_ - batches_dropped_logged_,
                            " minutes of aggregates were dropped unwritten (writing fell behind)");
      batches_dropped_logged_ = batches_dropped_;
    }
    if (all) {  // the open minute too, straight to writing (not through the bounded queue)
      queue_open_agg_locked();
      for (auto& b : queued_) batches.push_back(std::move(b));
      queued_.clear();
      queued_keys_ = 0;
    }
  }
  write_batches_locked(batches, access, now_ms);
}

void ledger::write_batches_locked(std::vector<batch>& batches, std::vector<access_entry>& access,
                                  std::int64_t now_ms) {
  if (batches.empty() && access.empty()) return;
  std::vector<lp::LedgerEntry> entries;
  for (const access_entry& a : access) {
    lp::LedgerEntry& e = entries.emplace_back();
    e.set_time_ms(a.time_ms);
    lp::Access* x = e.mutable_access();
    x->set_method(a.method);
    x->set_command(a.command);
    x->set_ok(a.ok);
  }
  std::vector<std::uint64_t> evicted;
  // Devices that have keys are touched first, so that new ones made below evict other newcomers
  // (or idle devices), never a device seen in this very batch.
  for (const batch& b : batches) {
    for (const auto& [key, a] : b.open)
      (void)keys_table_->get(index_ref(a.device), false, now_ms, evicted);
  }
  for (batch& b : batches) {
    std::vector<const std::string*> keys;
    keys.reserve(b.open.size());
    for (const auto& [key, agg] : b.open) keys.push_back(&key);
    std::sort(keys.begin(), keys.end(),
              [](const std::string* x, const std::string* y) { return *x < *y; });
    for (const std::string* key : keys) {
      const aggregate& a = b.open.at(*key);
      lp::LedgerEntry e;
      lp::Release* r = e.mutable_release();
      // No key could be made: better no entry than a device in clear.
      if (!seal_device_locked(a.device, true, now_ms, evicted, *r->mutable_device())) continue;
      e.set_time_ms(now_ms);
      r->set_device_class(a.device_class);
      r->set_purpose(a.purpose);
      r->set_minute_ms(b.minute);
      for (const auto& f : a.fields) r->add_fields(f);
      r->set_count(a.count);
      r->set_bytes(a.bytes);
      r->set_epsilon_micro(a.epsilon_micro);
      entries.push_back(std::move(e));
    }
    if (std::any_of(b.drops.begin(), b.drops.end(), [](auto n) { return n != 0; })) {
      lp::LedgerEntry& e = entries.emplace_back();
      e.set_time_ms(now_ms);
      lp::Drops* d = e.mutable_drops();
      d->set_minute_ms(b.minute);
      for (std::size_t i = 0; i < b.drops.size(); ++i) {
        if (b.drops[i] == 0) continue;
        lp::DropCount* c = d->add_counts();
        c->set_reason(
            std::string(policies::drop_reason_name(static_cast<policies::drop_reason>(i))));
        c->set_count(b.drops[i]);
      }
    }
  }
  record_evictions_locked(evicted, now_ms, entries);
  // The keys reach the disk before any entry sealed under them.
  if (auto w = keys_table_->save(); !w) {
    platform::log_error("ledger: ", w.error_message());
    ++write_errors_;
  }
  append_locked(entries);
}

bool ledger::record_release(std::string_view device_id, std::string_view device_class,
                            std::string_view purpose, std::span<const std::string_view> fields,
                            std::uint64_t bytes, std::int64_t now_ms, std::uint64_t epsilon_micro) {
  note_time(now_ms);
  std::unique_lock lock(agg_mu_);
  const bool was_idle = idle_locked();
  const bool was_queued = !queued_.empty();
  roll_minute_agg_locked(now_ms);
  key_buf_.assign(device_id);
  key_buf_ += '\0';
  key_buf_.append(device_class);
  key_buf_ += '\0';
  key_buf_.append(purpose);
  auto it = open_.find(key_buf_);
  if (it == open_.end()) {
    if (!valid_device(device_id)) return false;
    if (open_.size() >= options_.max_open_keys) queue_open_agg_locked();
    aggregate a;
    a.device = device_id;
    a.device_class = clean_text(device_class, 256);
    a.purpose = clean_text(purpose, 256);
    it = open_.emplace(key_buf_, std::move(a)).first;
  }
  aggregate& a = it->second;
  ++a.count;
  a.bytes += bytes;
  a.epsilon_micro += epsilon_micro;
  for (std::string_view f : fields) {
    if (a.fields.find(f) == a.fields.end()) a.fields.emplace(clean_text(f, 1024));
  }
  // Once a minute at most, or when the open minute was queued early (it is due at once).
  const bool wake = was_idle || (!was_queued && !queued_.empty());
  lock.unlock();
  if (wake && notify_) notify_();
  return true;
}

void ledger::record_drops(const policies::drop_counts& drops, std::int64_t now_ms) {
  note_time(now_ms);
  std::unique_lock lock(agg_mu_);
  const bool was_idle = idle_locked();
  roll_minute_agg_locked(now_ms);
  for (std::size_t i = 0; i < drops.size(); ++i) open_drops_[i] += drops[i];
  const bool wake = was_idle && !idle_locked();
  lock.unlock();
  if (wake && notify_) notify_();
}

void ledger::record_consent(const consent_receipt& receipt) {
  std::lock_guard lock(mu_);
  note_time(receipt.time_ms);
  std::vector<std::uint64_t> evicted;
  std::vector<lp::LedgerEntry> entries(1);
  lp::LedgerEntry& e = entries.front();
  e.set_time_ms(receipt.time_ms);
  lp::Consent* c = e.mutable_consent();
  portier::consent::ConsentReceipt* r = c->mutable_receipt();
  r->set_id(receipt.id);
  r->set_time_ms(receipt.time_ms);
  r->set_scope(receipt.scope == consent_scope::household      ? portier::consent::SCOPE_HOUSEHOLD
               : receipt.scope == consent_scope::device_class ? portier::consent::SCOPE_DEVICE_CLASS
                                                              : portier::consent::SCOPE_DEVICE);
  if (receipt.scope == consent_scope::device) {
    seal_device_locked(receipt.scope_value, true, receipt.time_ms, evicted, *c->mutable_device());
  } else {
    r->set_scope_value(clean_text(receipt.scope_value, 256));
  }
  r->set_purpose(clean_text(receipt.purpose, 256));
  switch (receipt.decision) {
    case receipt_decision::granted:
      r->set_decision(portier::consent::RECEIPT_GRANTED);
      break;
    case receipt_decision::refused:
      r->set_decision(portier::consent::RECEIPT_REFUSED);
      break;
    case receipt_decision::cleared:
      r->set_decision(portier::consent::RECEIPT_CLEARED);
      break;
    case receipt_decision::paused:
      r->set_decision(portier::consent::RECEIPT_PAUSED);
      break;
    case receipt_decision::resumed:
      r->set_decision(portier::consent::RECEIPT_RESUMED);
      break;
  }
  r->set_method(clean_text(receipt.method, 64));
  r->set_purpose_title(clean_text(receipt.shown.purpose_title, 1024));
  r->set_purpose_description(clean_text(receipt.shown.purpose_description, 8192));
  r->set_policy_name(clean_text(receipt.shown.policy_name, 1024));
  r->set_policy_version(receipt.shown.policy_version);
  r->set_prev_hash(clean_text(receipt.prev_hash, 128));
  r->set_hash(clean_text(receipt.hash, 128));
  record_evictions_locked(evicted, receipt.time_ms, entries);
  if (auto w = keys_table_->save(); !w) {
    platform::log_error("ledger: ", w.error_message());
    ++write_errors_;
  }
  append_locked(entries);
}

void ledger::record_policy(std::string_view name, std::uint64_t version, std::string_view source,
                           bool applied, std::string_view reason_code, std::int64_t now_ms,
                           std::span<const cap_change> cap_raises,
                           std::span<const release_change_record> changes, bool widens) {
  std::lock_guard lock(mu_);
  note_time(now_ms);
  std::vector<lp::LedgerEntry> entries(1);
  lp::LedgerEntry& e = entries.front();
  e.set_time_ms(now_ms);
  lp::PolicyChange* p = e.mutable_policy();
  p->set_name(clean_text(name, 1024));
  p->set_version(version);
  p->set_source(clean_text(source, 256));
  p->set_applied(applied);
  p->set_reason_code(clean_text(reason_code, 256));
  for (const cap_change& c : cap_raises.first(std::min<std::size_t>(cap_raises.size(), 64))) {
    lp::CapRaise* x = p->add_cap_raised();
    x->set_purpose(clean_text(c.purpose, 64));
    x->set_before_micro(c.before > 0 ? static_cast<std::uint64_t>(std::llround(c.before * 1e6))
                                     : 0);
    x->set_after_micro(c.after > 0 ? static_cast<std::uint64_t>(std::llround(c.after * 1e6)) : 0);
  }
  p->set_widens(widens);
  // Bounded well below a frame (kMaxBody): the change count, phrases per side, their length, and
  // the bytes of them all (the changes beyond are left out; `widens` still says it all).
  constexpr std::size_t kMaxPhrases = 64;
  constexpr std::size_t kMaxPhraseBytes = 256;
  std::size_t budget = kMaxBody / 2;
  for (const auto& c : changes.first(std::min(changes.size(), kMaxPolicyChanges))) {
    std::size_t size = 2 * 64 + 16;
    for (const auto* side : {&c.before, &c.after}) {
      for (std::size_t i = 0; i < std::min(side->size(), kMaxPhrases); ++i)
        size += std::min((*side)[i].size(), kMaxPhraseBytes) + 4;
    }
    if (size > budget) break;
    budget -= size;
    lp::ReleaseChangeRecord* x = p->add_changes();
    x->set_class_id(clean_text(c.class_id, 64));
    x->set_purpose(clean_text(c.purpose, 64));
    for (const auto& b : std::span(c.before).first(std::min(c.before.size(), kMaxPhrases)))
      x->add_before(clean_text(b, kMaxPhraseBytes));
    for (const auto& a : std::span(c.after).first(std::min(c.after.size(), kMaxPhrases)))
      x->add_after(clean_text(a, kMaxPhraseBytes));
    x->set_widens(c.widens);
  }
  append_locked(entries);
}

void ledger::record_access(std::string_view method, std::string_view command, bool ok,
                           std::int64_t now_ms) {
  note_time(now_ms);
  std::unique_lock lock(agg_mu_);
  const bool wake = queued_access_.empty() && queued_.empty();
  if (queued_access_.size() >= kMaxQueuedAccess) {
    queued_access_.pop_front();
    ++access_dropped_;
    if (options_.access_dropped_counter != nullptr) ++*options_.access_dropped_counter;
  }
  queued_access_.push_back({clean_text(method, 64), clean_text(command, 64), ok, now_ms});
  lock.unlock();
  if (wake && notify_) notify_();
}

void ledger::flush(std::int64_t now_ms) {
  note_time(now_ms);
  std::lock_guard lock(mu_);
  write_queued_locked(now_ms, false);
}

void ledger::flush_all(std::int64_t now_ms) {
  note_time(now_ms);
  std::lock_guard lock(mu_);
  write_queued_locked(now_ms, true);
}

// ---- erasure ----------------------------------------------------------------------------------

platform::result<erase_outcome> ledger::erase_device(
    std::string_view device_id, std::span<const std::pair<std::string, std::string>> pseudonyms,
    std::uint64_t spool_records, std::int64_t now_ms) {
  if (!valid_device(device_id))
    return platform::error{"a device id must be 1 to 256 bytes of UTF-8 without NUL"};
  if (pseudonyms.size() > kMaxPseudonyms) {
    return platform::error{"at most " + std::to_string(kMaxPseudonyms) + " pseudonyms per erasure"};
  }
  note_time(now_ms);
  std::lock_guard lock(mu_);
  // What is aggregated of the device is written first, so that the erasure covers it too (other
  // devices' open minute is written early: report() adds the two entries up).
  write_queued_locked(now_ms, true);

  std::set<std::uint64_t> doomed;
  if (auto k = keys_table_->key_id_of(index_ref(device_id))) doomed.insert(*k);
  // Keys of earlier versions, or a key the table lost: the ledger itself says which keys seal
  // this device. One decryption per key id.
  const auto frames = read_all_locked();
  std::set<std::uint64_t> checked;
  const auto sealed_of = [](const lp::LedgerEntry& e) -> const lp::SealedDevice* {
    if (e.has_release()) return &e.release().device();
    if (e.has_consent() && e.consent().has_device()) return &e.consent().device();
    return nullptr;
  };
  for (const auto& f : frames) {
    if (f.bad) continue;
    const lp::SealedDevice* d = sealed_of(f.entry);
    if (!d || doomed.count(d->key_id()) || !checked.insert(d->key_id()).second) continue;
    if (auto name = open_device_locked(*d); name && *name == device_id) doomed.insert(d->key_id());
  }
  erase_outcome out;
  for (const auto& f : frames) {
    if (f.bad) continue;
    if (const lp::SealedDevice* d = sealed_of(f.entry); d && doomed.count(d->key_id()))
      ++out.ledger_entries;
  }
  for (std::uint64_t key_id : doomed) {
    keys_table_->drop(key_id);
    keys_.destroy(key_name(key_id));
    out.keys_destroyed.push_back(key_id);
  }
  if (auto w = keys_table_->save(); !w) {
    ++write_errors_;
    return platform::error{w.error_message() + " (the device's keys could not be dropped on disk)"};
  }

  std::vector<lp::LedgerEntry> entries(1);
  lp::LedgerEntry& e = entries.front();
  e.set_time_ms(now_ms);
  lp::Erasure* er = e.mutable_erasure();
  for (std::uint64_t k : out.keys_destroyed) er->add_key_ids(k);
  for (const auto& [purpose, value] : pseudonyms) {
    lp::Pseudonym* p = er->add_pseudonyms();
    p->set_purpose(clean_text(purpose, 256));
    p->set_value(clean_text(value, 256));
  }
  er->set_spool_records(spool_records);
  er->set_ledger_entries(out.ledger_entries);
  if (!append_locked(entries))
    return platform::error{options_.dir +
                           ": the device is erased, but its erasure entry could not be written"};
  return out;
}

// ---- reading ----------------------------------------------------------------------------------

std::vector<ledger::parsed_frame> ledger::read_all_locked() const {
  std::vector<parsed_frame> frames;
  const auto listed = list_segments(options_.dir);
  if (!listed) {  // reported as unreadable, like a segment that cannot be read
    parsed_frame f;
    f.bad = true;
    f.why = listed.error_message();
    frames.push_back(std::move(f));
    return frames;
  }
  for (const auto& [index, path] : *listed) {
    auto bytes = platform::read_file(path, options_.max_bytes + 2 * kMaxBody);
    if (!bytes) {
      parsed_frame f;
      f.segment = index;
      f.bad = true;
      f.why = bytes.error_message();
      frames.push_back(std::move(f));
      continue;
    }
    parse_segment(index, *bytes, frames);
  }
  return frames;
}

std::optional<std::string> ledger::open_device_locked(const lp::SealedDevice& d) const {
  const auto key = key_locked(d.key_id());
  if (!key || d.nonce().size() != platform::aes_gcm::kNonceBytes) return std::nullopt;
  platform::aes_gcm::nonce nonce{};
  std::memcpy(nonce.data(), d.nonce().data(), nonce.size());
  std::string plain;
  if (!platform::aes_gcm(*key).open(nonce, device_aad(d.key_id()), d.sealed(), plain))
    return std::nullopt;
  return plain;
}

ledger_check ledger::verify() const {
  std::lock_guard lock(mu_);
  const auto frames = read_all_locked();
  std::set<std::uint64_t> seqs;
  for (const auto& f : frames) {
    if (!f.bad) seqs.insert(f.entry.seq());
  }
  ledger_check out;
  out.first_seq = anchor_seq_;
  if (last_seq_ > 0) out.head_hash = to_hex(last_hash_);
  std::uint64_t expected = anchor_seq_;
  std::string prev = anchor_prev_;
  const auto fail = [&](ledger_problem p, std::uint64_t seq, std::string detail) {
    out.ok = false;
    out.problem = p;
    out.bad_seq = seq;
    out.detail = std::move(detail);
    return out;
  };
  for (const auto& f : frames) {
    const std::string where =
        "segment " + std::to_string(f.segment) + " offset " + std::to_string(f.offset);
    if (f.bad) return fail(ledger_problem::corrupt, expected, where + ": " + f.why);
    const std::uint64_t seq = f.entry.seq();
    if (seq < anchor_seq_ && expected == anchor_seq_)
      continue;  // left from an interrupted rotation
    if (as_bytes(sha256(f.entry.prev_hash(), f.body)) != f.hash) {
      return fail(ledger_problem::edited, seq,
                  where + ": the entry's content does not match its hash");
    }
    if (seq > expected) {
      if (seqs.count(expected)) {
        return fail(ledger_problem::reordered, expected,
                    where + ": entry " + std::to_string(seq) + " stands where " +
                        std::to_string(expected) + " belongs");
      }
      return fail(ledger_problem::removed, expected,
                  "entries " + std::to_string(expected) + " to " + std::to_string(seq - 1) +
                      " are missing");
    }
    if (seq < expected) {
      return fail(ledger_problem::reordered, seq,
                  where + ": entry " + std::to_string(seq) + " appears after entry " +
                      std::to_string(expected - 1));
    }
    if (f.entry.prev_hash() != prev) {
      return fail(ledger_problem::broken_link, seq,
                  where + ": does not chain onto " +
                      (seq == anchor_seq_ ? std::string("the anchor")
                                          : "entry " + std::to_string(seq - 1)) +
                      ", which was replaced");
    }
    prev = f.hash;
    ++expected;
    ++out.count;
  }
  const std::uint64_t last = expected - 1;
  if (last < last_seq_) {
    return fail(ledger_problem::truncated, last + 1,
                "the files end at entry " + std::to_string(last) + ", the head records " +
                    std::to_string(last_seq_));
  }
  if (last > last_seq_) {
    return fail(ledger_problem::head_mismatch, last_seq_ + 1,
                "the files go on to entry " + std::to_string(last) + ", the head records " +
                    std::to_string(last_seq_));
  }
  if (prev != last_hash_) {
    return fail(ledger_problem::head_mismatch, last,
                "the last entry's hash differs from the head's: it was replaced");
  }
  if (head_lost_)
    return fail(ledger_problem::head_mismatch, last, "the head file was missing at start-up");
  return out;
}

std::vector<ledger_record> ledger::read(std::int64_t since_ms,
                                        std::optional<ledger_record::kind> only) const {
  std::lock_guard lock(mu_);
  return read_locked(since_ms, nullptr, only);
}

std::vector<ledger_record> ledger::read_locked(std::int64_t since_ms, std::int64_t* oldest_ms,
                                               std::optional<ledger_record::kind> only) const {
  const std::int64_t since_minute = minute_of(since_ms);
  std::map<std::uint64_t, std::optional<platform::key256>> keys;  // one key look-up per key id
  const auto frames = read_all_locked();
  std::set<std::uint64_t> evicted;
  for (const auto& f : frames) {
    if (!f.bad && f.entry.has_eviction())
      evicted.insert(f.entry.eviction().key_ids().begin(), f.entry.eviction().key_ids().end());
  }
  const auto device = [&](const lp::SealedDevice& d, ledger_record& r) {
    r.device_key = d.key_id();
    auto it = keys.find(d.key_id());
    if (it == keys.end()) it = keys.emplace(d.key_id(), key_locked(d.key_id())).first;
    if (!it->second) {
      (evicted.count(d.key_id()) != 0 ? r.device_forgotten : r.device_erased) = true;
      return;
    }
    platform::aes_gcm::nonce nonce{};
    if (d.nonce().size() != nonce.size()) return;
    std::memcpy(nonce.data(), d.nonce().data(), nonce.size());
    if (!platform::aes_gcm(*it->second).open(nonce, device_aad(d.key_id()), d.sealed(), r.device)) {
      r.device.clear();
      platform::log_warning("ledger: a device in entry ", r.seq, " does not authenticate");
    }
  };

  std::vector<ledger_record> out;
  for (const auto& f : frames) {
    if (f.bad) continue;
    const lp::LedgerEntry& e = f.entry;
    if (e.seq() < anchor_seq_) continue;
    if (oldest_ms && *oldest_ms == 0) *oldest_ms = e.time_ms();
    if (only && kind_of(e) != *only) continue;
    ledger_record r;
    r.seq = e.seq();
    r.time_ms = e.time_ms();
    switch (e.kind_case()) {
      case lp::LedgerEntry::kRelease: {
        const lp::Release& x = e.release();
        if (x.minute_ms() < since_minute) continue;
        r.type = ledger_record::kind::release;
        device(x.device(), r);
        r.device_class = x.device_class();
        r.purpose = x.purpose();
        r.minute_ms = x.minute_ms();
        r.fields.assign(x.fields().begin(), x.fields().end());
        r.count = x.count();
        r.bytes = x.bytes();
        r.epsilon_micro = x.epsilon_micro();
        break;
      }
      case lp::LedgerEntry::kDrops: {
        const lp::Drops& x = e.drops();
        if (x.minute_ms() < since_minute) continue;
        r.type = ledger_record::kind::drops;
        r.minute_ms = x.minute_ms();
        for (const auto& c : x.counts()) r.drops.emplace_back(c.reason(), c.count());
        break;
      }
      case lp::LedgerEntry::kConsent: {
        if (e.time_ms() < since_ms) continue;
        r.type = ledger_record::kind::consent;
        consent_receipt_from_proto(e.consent().receipt(), r.receipt);
        if (e.consent().has_device()) {  // sealed in the ledger, so that erasure shreds it
          device(e.consent().device(), r);
          r.receipt.scope_value = r.device;
        }
        break;
      }
      case lp::LedgerEntry::kPolicy: {
        if (e.time_ms() < since_ms) continue;
        r.type = ledger_record::kind::policy;
        const lp::PolicyChange& x = e.policy();
        r.policy_name = x.name();
        r.policy_version = x.version();
        r.policy_source = x.source();
        r.policy_applied = x.applied();
        r.policy_reason = x.reason_code();
        for (const auto& c : x.cap_raised())
          r.cap_raises.push_back({c.purpose(), c.before_micro(), c.after_micro()});
        r.policy_widens = x.widens();
        for (const auto& c : x.changes()) {
          r.policy_changes.push_back({c.class_id(),
                                      c.purpose(),
                                      {c.before().begin(), c.before().end()},
                                      {c.after().begin(), c.after().end()},
                                      c.widens()});
        }
        break;
      }
      case lp::LedgerEntry::kAccess: {
        if (e.time_ms() < since_ms) continue;
        r.type = ledger_record::kind::access;
        r.access_method = e.access().method();
        r.access_command = e.access().command();
        r.access_ok = e.access().ok();
        break;
      }
      case lp::LedgerEntry::kErasure: {
        if (e.time_ms() < since_ms) continue;
        r.type = ledger_record::kind::erasure;
        const lp::Erasure& x = e.erasure();
        r.erased_keys.assign(x.key_ids().begin(), x.key_ids().end());
        for (const auto& p : x.pseudonyms()) r.pseudonyms.emplace_back(p.purpose(), p.value());
        r.spool_records = x.spool_records();
        r.ledger_entries = x.ledger_entries();
        break;
      }
      default:
        continue;
    }
    out.push_back(std::move(r));
  }
  return out;
}

ledger_report ledger::report(std::int64_t since_ms, std::int64_t bucket_ms,
                             std::size_t buckets) const {
  std::lock_guard lock(mu_);
  ledger_report out;
  out.since_ms = since_ms;
  // Readable devices merge across their keys; each erased or forgotten key stays its own row.
  using row_key = std::tuple<std::string, std::uint64_t, std::string, std::string>;
  std::map<row_key, ledger_report::row> rows;
  std::map<std::string, std::uint64_t> drops;
  const auto add = [&](const ledger_record& e) {
    const bool unreadable = e.device_erased || e.device_forgotten;
    ledger_report::row& r =
        rows[{e.device, unreadable ? e.device_key : 0, e.device_class, e.purpose}];
    if (r.count == 0 && r.fields.empty()) {
      r.device_key = e.device_key;
      r.device = e.device;
      r.device_erased = e.device_erased;
      r.device_forgotten = e.device_forgotten;
      r.device_class = e.device_class;
      r.purpose = e.purpose;
      r.first_minute_ms = e.minute_ms;
      r.last_minute_ms = e.minute_ms;
    }
    for (const auto& f : e.fields) {
      if (std::find(r.fields.begin(), r.fields.end(), f) == r.fields.end())
        r.fields.emplace_back(f);
    }
    r.count += e.count;
    r.bytes += e.bytes;
    r.epsilon_micro += e.epsilon_micro;
    r.first_minute_ms = std::min(r.first_minute_ms, e.minute_ms);
    r.last_minute_ms = std::max(r.last_minute_ms, e.minute_ms);
    if (bucket_ms > 0 && buckets > 0) {
      r.bucket_count.resize(buckets);
      r.bucket_bytes.resize(buckets);
      const std::int64_t from = e.minute_ms > since_ms ? e.minute_ms - since_ms : 0;
      const auto i = std::min(static_cast<std::size_t>(from / bucket_ms), buckets - 1);
      r.bucket_count[i] += e.count;
      r.bucket_bytes[i] += e.bytes;
    }
  };
  for (const auto& e : read_locked(since_ms, &out.oldest_ms)) {
    if (e.type == ledger_record::kind::release) {
      add(e);
    } else if (e.type == ledger_record::kind::drops) {
      for (const auto& [reason, n] : e.drops) drops[reason] += n;
    }
  }
  // Not written yet: the queued minutes and the open one.
  std::lock_guard agg(agg_mu_);
  const auto add_unwritten =
      [&](std::int64_t minute, const aggregates& open,
          const std::array<std::uint64_t, policies::kDropReasonCount>& counts) {
        if (minute < minute_of(since_ms)) return;
        for (const auto& [key, a] : open) {
          ledger_record e;
          e.device_key = keys_table_->key_id_of(index_ref(a.device)).value_or(0);
          e.device = a.device;
          e.device_class = a.device_class;
          e.purpose = a.purpose;
          e.fields.assign(a.fields.begin(), a.fields.end());
          e.count = a.count;
          e.bytes = a.bytes;
          e.epsilon_micro = a.epsilon_micro;
          e.minute_ms = minute;
          add(e);
        }
        for (std::size_t i = 0; i < counts.size(); ++i) {
          if (counts[i] != 0) {
            drops[std::string(policies::drop_reason_name(static_cast<policies::drop_reason>(i)))] +=
                counts[i];
          }
        }
      };
  for (const batch& b : queued_) add_unwritten(b.minute, b.open, b.drops);
  if (open_minute_ >= 0) add_unwritten(open_minute_, open_, open_drops_);
  for (auto& [key, r] : rows) {
    std::sort(r.fields.begin(), r.fields.end());
    out.released_count += r.count;
    out.released_bytes += r.bytes;
    out.releases.push_back(std::move(r));
  }
  for (const auto& [reason, n] : drops) {
    out.drops.emplace_back(reason, n);
    out.dropped_count += n;
  }
  return out;
}

std::uint64_t ledger::bytes() const {
  std::lock_guard lock(mu_);
  return total_bytes_ + keys_table_->file_bytes();
}

std::uint64_t ledger::last_seq() const {
  std::lock_guard lock(mu_);
  return last_seq_;
}

std::uint64_t ledger::access_dropped() const {
  std::lock_guard lock(agg_mu_);
  return access_dropped_;
}

std::uint64_t ledger::batches_dropped() const {
  std::lock_guard lock(agg_mu_);
  return batches_dropped_;
}

std::size_t ledger::device_keys() const {
  std::lock_guard lock(mu_);
  return keys_table_->size();
}

std::uint64_t ledger::write_errors() const {
  std::lock_guard lock(mu_);
  return write_errors_;
}

}  // namespace portier::gateway
