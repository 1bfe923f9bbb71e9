#include "gateway/store/window_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include "gateway/store/ledger.h"
#include "platform/crc32.h"
#include "platform/file.h"
#include "platform/little_endian.h"
#include "platform/log.h"
#include "platform/random.h"
#include "windows.pb.h"

namespace portier::gateway {

namespace pw = ::portier::windows;
using platform::pread_all;
using platform::pwrite_all;
using policies::drop_reason;

namespace {

constexpr char kSnapshotMagic[4] = {'P', 'T', 'W', '1'};
constexpr char kJournalMagic[4] = {'P', 'T', 'J', '1'};
constexpr std::size_t kJournalHeader = 12;  // magic, body length, crc
constexpr std::size_t kMinBody = 8 + platform::aes_gcm::kNonceBytes + platform::aes_gcm::kTagBytes;
constexpr std::uint32_t kMaxBody = 1u << 20;
constexpr std::size_t kMaxSnapshotBytes = 256u << 20;
constexpr std::size_t kMaxCapRaises = 64;
constexpr char kSnapshotName[] = "windows.pb";
constexpr char kJournalName[] = "windows.journal";

std::string key_name(std::uint64_t key_id) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(key_id));
  return std::string("windows-") + hex;
}

std::string snapshot_aad(std::uint64_t key_id) {
  std::string aad = "portier/windows/v1";
  platform::put_u64le(aad, key_id);
  return aad;
}

std::string journal_aad(std::uint64_t key_id) {
  std::string aad = "portier/windows-journal/v1";
  platform::put_u64le(aad, key_id);
  return aad;
}

std::uint64_t to_micro(double epsilon) {
  return epsilon > 0 ? static_cast<std::uint64_t>(std::llround(epsilon * 1e6)) : 0;
}

// One journal frame as read back: its body (key id, nonce, sealed entry) and its length on disk.
enum class frame_status { ok, end, bad };
struct journal_frame {
  std::uint64_t key_id = 0;
  platform::aes_gcm::nonce nonce{};
  std::string sealed;
  std::uint64_t length = 0;
};

frame_status read_frame(int fd, std::uint64_t size, std::uint64_t offset, journal_frame& f) {
  if (offset + kJournalHeader > size) return frame_status::end;
  char header[kJournalHeader];
  if (!pread_all(fd, header, sizeof header, offset)) return frame_status::bad;
  if (std::memcmp(header, kJournalMagic, 4) != 0) return frame_status::bad;
  const std::uint32_t len = platform::get_u32le(header + 4);
  if (len < kMinBody || len > kMaxBody) return frame_status::bad;
  if (offset + kJournalHeader + len > size) return frame_status::end;
  std::string body(len, '\0');
  if (!pread_all(fd, body.data(), len, offset + kJournalHeader)) return frame_status::bad;
  if (platform::crc32(body) != platform::get_u32le(header + 8)) return frame_status::bad;
  f.key_id = platform::get_u64le(body.data());
  std::memcpy(f.nonce.data(), body.data() + 8, platform::aes_gcm::kNonceBytes);
  f.sealed.assign(body, 8 + platform::aes_gcm::kNonceBytes);
  f.length = kJournalHeader + len;
  return frame_status::ok;
}

// The offset of the next valid frame after `from`, if any.
std::optional<std::uint64_t> resync(int fd, std::uint64_t size, std::uint64_t from) {
  if (from + 1 >= size) return std::nullopt;
  std::string rest(size - from - 1, '\0');
  if (!pread_all(fd, rest.data(), rest.size(), from + 1)) return std::nullopt;
  for (std::size_t i = rest.find(kJournalMagic, 0, 4); i != std::string::npos;
       i = rest.find(kJournalMagic, i + 1, 4)) {
    journal_frame f;
    if (read_frame(fd, size, from + 1 + i, f) == frame_status::ok) return from + 1 + i;
  }
  return std::nullopt;
}

// A journal entry as the aggregator takes it; false when it names no known function.
bool to_input(const pw::JournalEntry& e, std::vector<policies::window_input_sample>& samples,
              policies::window_input& in) {
  samples.clear();
  for (const auto& s : e.sample()) {
    if (s.function() > static_cast<std::uint32_t>(policies::aggregate_fn::delta)) return false;
    policies::window_input_sample x;
    x.path = s.path();
    x.spec.fn = static_cast<policies::aggregate_fn>(s.function());
    x.spec.window_seconds = s.window_seconds();
    x.spec.spread_seconds = s.spread_seconds();
    x.spec.wrap_at = s.wrap_at();
    x.spec.noisy = s.noisy();
    x.spec.lower = s.lower();
    x.spec.upper = s.upper();
    x.value = s.value();
    samples.push_back(x);
  }
  in.purpose = e.purpose();
  in.device_class = e.device_class();
  in.device_id = e.device_id();
  in.topic = e.topic();
  in.time_ms = e.time_ms();
  in.samples = samples;
  return true;
}

bool matches(const policies::window_release& r, std::string_view r_purpose,
             std::string_view purpose, spool::scope s, std::string_view value) {
  if (!purpose.empty() && r_purpose != purpose) return false;
  switch (s) {
    case spool::scope::household:
      return true;
    case spool::scope::device_class:
      return r.device_class == value;
    case spool::scope::device:
      return r.device_id == value;
  }
  return false;
}

class owning_drbg_source final : public policies::random_source {
 public:
  explicit owning_drbg_source(std::unique_ptr<platform::ctr_drbg> drbg)
      : drbg_(std::move(drbg)), source_(*drbg_) {}
  bool fill(std::span<std::uint8_t> out) override { return source_.fill(out); }

 private:
  std::unique_ptr<platform::ctr_drbg> drbg_;
  policies::drbg_source source_;
};

}  // namespace

std::unique_ptr<policies::random_source> owned_drbg_source(
    std::unique_ptr<platform::ctr_drbg> drbg) {
  if (!drbg) return nullptr;
  return std::make_unique<owning_drbg_source>(std::move(drbg));
}

platform::result<std::unique_ptr<policies::random_source>> system_random_source() {
  auto drbg = platform::ctr_drbg::from_system();
  if (!drbg) return platform::error{"windows: no random source: " + drbg.error_message()};
  return owned_drbg_source(std::move(*drbg));
}

window_store::window_store(window_store_options options, platform::key_directory& keys,
                           std::unique_ptr<policies::random_source> rng, counters& stats)
    : options_(std::move(options)), keys_(keys), rng_(std::move(rng)), stats_(stats) {}

platform::result<std::unique_ptr<window_store>> window_store::open(
    window_store_options options, platform::key_directory& keys,
    std::unique_ptr<policies::random_source> rng, counters& stats) {
  if (!rng) return platform::error{"windows: no random source"};
  std::unique_ptr<window_store> s(
      new window_store(std::move(options), keys, std::move(rng), stats));
  if (auto r = s->recover(); !r) return platform::error{r.error_message()};
  if (s->options_.sync == spool_options::durability::batch)
    s->syncer_ = std::thread([p = s.get()] { p->background(); });
  return s;
}

window_store::~window_store() {
  close();
  if (journal_fd_ >= 0) ::close(journal_fd_);
}

// ---- keys and sealing -------------------------------------------------------------------------

platform::aes_gcm* window_store::cipher_locked(std::uint64_t key_id) {
  if (auto it = ciphers_.find(key_id); it != ciphers_.end()) return it->second.get();
  auto key = keys_.get(key_name(key_id));
  auto& slot = ciphers_[key_id];
  if (key) slot = std::make_unique<platform::aes_gcm>(*key);
  return slot.get();
}

platform::result<std::uint64_t> window_store::new_key_locked() {
  std::uint64_t id = 0;
  if (auto r = platform::random_bytes({reinterpret_cast<std::uint8_t*>(&id), sizeof id}); !r)
    return platform::error{"windows: no random key id: " + r.error_message()};
  auto key = keys_.create(key_name(id));
  if (!key) return platform::error{"windows: cannot create a key: " + key.error_message()};
  ciphers_[id] = std::make_unique<platform::aes_gcm>(*key);
  return id;
}

std::string window_store::state_bytes_locked() const {
  pw::WindowState state;
  agg_->save(state);
  state.set_journal_seq(appended_seq_);
  for (const auto& [purpose, c] : cap_raises_) {
    auto* out = state.add_cap_raise();
    out->set_purpose(purpose);
    out->set_before_micro(to_micro(c.before));
    out->set_after_micro(to_micro(c.after));
    out->set_at_ms(c.at_ms);
    out->set_policy_name(c.policy_name);
    out->set_policy_version(c.policy_version);
  }
  return state.SerializeAsString();
}

std::string window_store::sealed_snapshot_locked(std::uint64_t key_id, std::string_view plaintext) {
  platform::aes_gcm* cipher = cipher_locked(key_id);
  platform::aes_gcm::nonce nonce{};
  if (cipher == nullptr || !nonces_.next(nonce)) return "";
  std::string out(kSnapshotMagic, 4);
  platform::put_u64le(out, key_id);
  out.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  cipher->seal(nonce, snapshot_aad(key_id), plaintext, out);
  return out;
}

platform::result<bool> window_store::write_snapshot_file(std::string_view sealed) {
  if (sealed.empty()) return platform::error{"windows: cannot seal the snapshot (no key)"};
  return platform::write_file_atomic(options_.dir + "/" + kSnapshotName, sealed, 0600);
}

// ---- recovery ---------------------------------------------------------------------------------

platform::result<bool> window_store::recover() {
  std::lock_guard io(io_mu_);
  std::lock_guard lock(mu_);
  const std::string journal_path = options_.dir + "/" + kJournalName;
  journal_fd_ = ::open(journal_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (journal_fd_ < 0)
    return platform::error{journal_path + ": cannot open: " + std::strerror(errno)};
  struct stat st {};
  ::fstat(journal_fd_, &st);
  journal_size_ = static_cast<std::uint64_t>(st.st_size);

  const std::string snapshot_path = options_.dir + "/" + kSnapshotName;
  if (::access(snapshot_path.c_str(), F_OK) != 0 && errno == ENOENT) {
    if (journal_size_ > 0) return start_afresh_locked("a journal without its snapshot");
    return start_afresh_locked("");
  }
  auto bytes = platform::read_file(snapshot_path, kMaxSnapshotBytes);
  if (!bytes) return start_afresh_locked(bytes.error_message());
  const std::size_t head = 4 + 8 + platform::aes_gcm::kNonceBytes;
  if (bytes->size() < head + platform::aes_gcm::kTagBytes ||
      std::memcmp(bytes->data(), kSnapshotMagic, 4) != 0) {
    return start_afresh_locked("the snapshot is not one");
  }
  const std::uint64_t key_id = platform::get_u64le(bytes->data() + 4);
  platform::aes_gcm::nonce nonce{};
  std::memcpy(nonce.data(), bytes->data() + 12, nonce.size());
  platform::aes_gcm* cipher = cipher_locked(key_id);
  if (cipher == nullptr) return start_afresh_locked("the snapshot's key is gone");
  std::string plaintext;
  pw::WindowState state;
  if (!cipher->open(nonce, snapshot_aad(key_id), std::string_view(*bytes).substr(head),
                    plaintext) ||
      !state.ParseFromString(plaintext)) {
    return start_afresh_locked("the snapshot does not authenticate");
  }
  // A state that holds more than the limits allow now (they were lowered since) is kept whole, so
  // that no budget is refilled: the lower limits apply as windows are released and past days'
  // budgets go.
  policies::window_limits limits = options_.limits;
  std::size_t windows = 0;
  for (const auto& s : state.series()) windows += (s.has_open() ? 1 : 0) + s.closed_size();
  limits.max_windows =
      std::max({limits.max_windows, windows, static_cast<std::size_t>(state.series_size())});
  limits.max_budgets = std::max(limits.max_budgets, static_cast<std::size_t>(state.budget_size()));
  if (limits.max_windows != options_.limits.max_windows ||
      limits.max_budgets != options_.limits.max_budgets) {
    platform::log_warning(
        "windows: the state holds more than aggregation.max_windows or "
        "max_budgets allow now; kept whole until they drain");
  }
  auto loaded = policies::window_aggregator::load(state, limits);
  if (!loaded) return start_afresh_locked("the snapshot does not load: " + loaded.error_message());
  agg_ = std::move(*loaded);
  key_id_ = key_id;
  for (const auto& c : state.cap_raise()) {
    if (cap_raises_.size() >= kMaxCapRaises || c.purpose().empty() || c.purpose().size() > 64)
      break;
    cap_raises_[c.purpose()] = {c.purpose(), c.before_micro() / 1e6,         c.after_micro() / 1e6,
                                c.at_ms(),   c.policy_name().substr(0, 256), c.policy_version()};
  }

  // Replay what the journal holds after the snapshot.
  const std::uint64_t snapshot_seq = state.journal_seq();
  std::uint64_t last_seq = snapshot_seq;
  std::uint64_t replayed = 0;
  std::set<std::uint64_t> old_keys;
  std::vector<policies::window_input_sample> samples;
  std::uint64_t off = 0;
  while (off < journal_size_) {
    journal_frame f;
    if (read_frame(journal_fd_, journal_size_, off, f) == frame_status::ok) {
      off += f.length;
      if (f.key_id != key_id_) old_keys.insert(f.key_id);
      platform::aes_gcm* c = cipher_locked(f.key_id);
      std::string entry_bytes;
      pw::JournalEntry e;
      policies::window_input in;
      if (c == nullptr || !c->open(f.nonce, journal_aad(f.key_id), f.sealed, entry_bytes) ||
          !e.ParseFromString(entry_bytes) || !to_input(e, samples, in)) {
        ++stats_.windows_journal_corrupt;
        continue;
      }
      if (e.seq() <= last_seq) continue;  // in the snapshot already (or a repeat)
      last_seq = e.seq();
      agg_->add(in);
      ++replayed;
      continue;
    }
    const auto next = resync(journal_fd_, journal_size_, off);
    if (!next) {
      platform::log_warning("windows: cutting a torn journal tail of ", journal_size_ - off,
                            " bytes");
      ++stats_.windows_journal_torn;
      break;
    }
    platform::log_warning("windows: skipping a corrupt journal frame at offset ", off);
    ++stats_.windows_journal_corrupt;
    off = *next;
  }
  next_seq_ = last_seq + 1;
  appended_seq_ = durable_seq_ = last_seq;
  counted_ = agg_->counts();  // counted by the run that added them
  if (replayed > 0) platform::log_info("windows: ", replayed, " journal entries replayed");
  if (auto r = compact_locked(false); !r) return r;
  for (std::uint64_t k : old_keys) {
    if (k != key_id_) keys_.destroy(key_name(k));
  }
  return true;
}

platform::result<bool> window_store::start_afresh_locked(const std::string& why) {
  if (!why.empty()) {
    problem_ = "windows: " + why + "; the aggregation windows and budgets start afresh";
    platform::log_warning(problem_);
  }
  agg_ = std::make_unique<policies::window_aggregator>(options_.limits);
  counted_ = agg_->counts();
  cap_raises_.clear();
  next_seq_ = 1;
  appended_seq_ = durable_seq_ = 0;
  // A new key: whatever the old state was sealed under stays unread.
  auto key = new_key_locked();
  if (!key) return platform::error{key.error_message()};
  key_id_ = *key;
  return compact_locked(false);
}

// ---- the journal ------------------------------------------------------------------------------

bool window_store::journal_locked(const policies::window_input& in) {
  pw::JournalEntry e;
  e.set_seq(next_seq_);
  e.set_purpose(std::string(in.purpose));
  e.set_device_class(std::string(in.device_class));
  e.set_device_id(std::string(in.device_id));
  e.set_topic(std::string(in.topic));
  e.set_time_ms(in.time_ms);
  for (const auto& s : in.samples) {
    auto* out = e.add_sample();
    out->set_path(std::string(s.path));
    out->set_function(static_cast<std::uint32_t>(s.spec.fn));
    out->set_window_seconds(s.spec.window_seconds);
    out->set_spread_seconds(s.spec.spread_seconds);
    out->set_wrap_at(s.spec.wrap_at);
    out->set_noisy(s.spec.noisy);
    out->set_lower(s.spec.lower);
    out->set_upper(s.spec.upper);
    out->set_value(s.value);
  }
  platform::aes_gcm* cipher = cipher_locked(key_id_);
  platform::aes_gcm::nonce nonce{};
  if (cipher == nullptr || !nonces_.next(nonce)) return false;
  std::string body;
  platform::put_u64le(body, key_id_);
  body.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  cipher->seal(nonce, journal_aad(key_id_), e.SerializeAsString(), body);
  if (body.size() > kMaxBody) {
    platform::log_error("windows: a journal entry of ", body.size(), " bytes is too large");
    return false;
  }
  frame_buf_.assign(kJournalMagic, 4);
  platform::put_u32le(frame_buf_, static_cast<std::uint32_t>(body.size()));
  platform::put_u32le(frame_buf_, platform::crc32(body));
  frame_buf_ += body;
  if (!pwrite_all(journal_fd_, frame_buf_.data(), frame_buf_.size(), journal_size_)) {
    platform::log_error("windows: cannot write the journal: ", std::strerror(errno));
    [[maybe_unused]] int rc = ::ftruncate(journal_fd_, static_cast<off_t>(journal_size_));
    return false;
  }
  journal_size_ += frame_buf_.size();
  appended_seq_ = next_seq_++;
  if (options_.sync == spool_options::durability::none) durable_seq_ = appended_seq_;
  if (background_idle_) {  // batch: the syncer sleeps until there is an entry to sync
    background_idle_ = false;
    background_cv_.notify_one();
  }
  return true;
}

bool window_store::add(const policies::compiled_policy& policy, const policies::decision& d,
                       std::int64_t now_ms) {
  bool ok = true;
  std::unique_lock lock(mu_);
  if (closed_) return false;
  const std::size_t windows_before = agg_->open_windows();
  const bool compact_before = journal_size_ > options_.compact_bytes;
  policies::for_each_window_input(policy, d, now_ms, [&](const policies::window_input& in) {
    if (!ok) return;
    if (!journal_locked(in)) {
      ok = false;
      return;
    }
    agg_->add(in);
  });
  count_locked(now_ms);
  const bool wake = agg_->open_windows() > windows_before ||
                    (!compact_before && journal_size_ > options_.compact_bytes);
  lock.unlock();
  if (wake && notify_) notify_();
  return ok;
}

std::optional<std::int64_t> window_store::next_tick_ms(std::int64_t now_ms) const {
  std::lock_guard io(io_mu_);
  std::lock_guard lock(mu_);
  if (closed_) return std::nullopt;
  if (journal_size_ > options_.compact_bytes) return 0;
  std::int64_t next = agg_->next_due_ms();
  if (!pending_.empty()) next = std::min(next, now_ms + 1000);  // the spool refused: try again
  if (next == INT64_MAX) return std::nullopt;
  return next;
}

bool window_store::sync() {
  if (options_.sync != spool_options::durability::each) return true;
  return sync_journal();
}

bool window_store::sync_journal() {
  std::unique_lock lock(mu_);
  if (closed_ || durable_seq_ >= appended_seq_) return true;
  const int fd = journal_fd_;
  const std::uint64_t target = appended_seq_;
  lock.unlock();
  if (::fdatasync(fd) != 0) {
    platform::log_error("windows: fdatasync of the journal failed (", std::strerror(errno), ")");
    return false;
  }
  lock.lock();
  durable_seq_ = std::max(durable_seq_, target);
  return true;
}

void window_store::background() {
  std::unique_lock lock(mu_);
  while (!closed_) {
    // Nothing to sync when no sample came: sleep until one does, then wait batch_interval so that
    // one sync covers what arrives meanwhile (an entry is synced within batch_ms of its write).
    background_idle_ = true;
    background_cv_.wait(lock, [&] { return closed_ || appended_seq_ > durable_seq_; });
    background_idle_ = false;
    background_cv_.wait_for(lock, options_.batch_interval, [&] { return closed_; });
    if (closed_ || durable_seq_ >= appended_seq_) continue;
    lock.unlock();
    sync_journal();
    lock.lock();
  }
}

// ---- counting -----------------------------------------------------------------------------------

void window_store::count_locked(std::int64_t now_ms) {
  const policies::window_counts& c = agg_->counts();
  stats_.windows_released += c.released - counted_.released;
  stats_.windows_refused += c.not_permitted - counted_.not_permitted;
  stats_.windows_policy_changed += c.policy_changed - counted_.policy_changed;
  policies::drop_counts drops{};
  bool any = false;
  const auto put = [&](drop_reason r, std::uint64_t n) {
    if (n == 0) return;
    stats_.drops[static_cast<std::size_t>(r)] += n;
    drops[static_cast<std::size_t>(r)] =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(n, UINT32_MAX));
    any = true;
  };
  put(drop_reason::window_sparse, c.window_sparse - counted_.window_sparse);
  put(drop_reason::budget_exhausted, c.budget_exhausted - counted_.budget_exhausted);
  put(drop_reason::window_limit, c.window_limit - counted_.window_limit);
  if (any && options_.record != nullptr) options_.record->record_drops(drops, now_ms);
  counted_ = c;
}

// ---- releasing ----------------------------------------------------------------------------------

std::size_t window_store::tick(const policies::compiled_policy& policy, std::int64_t now_ms,
                               const policies::window_aggregator::permission& permitted,
                               spool& out) {
  std::lock_guard io(io_mu_);
  std::string sealed;
  {
    std::lock_guard lock(mu_);
    if (closed_) return 0;
    // While the spool refuses, windows wait in the aggregator (bounded there), not here.
    if (agg_->next_due_ms() <= now_ms && pending_.size() < options_.limits.max_windows) {
      std::vector<policies::window_release> due;
      if (!agg_->take_due(policy, now_ms, *rng_, permitted, due)) {
        ++stats_.windows_rng_failures;
        platform::log_error("windows: the random source failed; no window released this time");
      }
      for (auto& r : due) {
        const std::string purpose = policy.purposes()[r.purpose].id;
        pending_.push_back({std::move(r), purpose, false});
      }
    }
    count_locked(now_ms);
    const bool unsnapshotted = std::any_of(pending_.begin(), pending_.end(),
                                           [](const pending_release& p) { return !p.snapshotted; });
    if (journal_size_ > options_.compact_bytes) {
      if (auto r = compact_locked(false); r) {
        for (auto& p : pending_) p.snapshotted = true;
      } else {
        platform::log_error(r.error_message());
      }
    } else if (unsnapshotted) {
      sealed = sealed_snapshot_locked(key_id_, state_bytes_locked());
    }
  }
  if (!sealed.empty() || std::any_of(pending_.begin(), pending_.end(),
                                     [](const pending_release& p) { return !p.snapshotted; })) {
    // Outside the aggregator's lock: the ingress goes on meanwhile (its journal entries come
    // after the snapshot's sequence number and are replayed on top of it).
    if (auto w = write_snapshot_file(sealed); w) {
      for (auto& p : pending_) p.snapshotted = true;
      snapshot_failing_ = false;
    } else if (!snapshot_failing_) {
      platform::log_error("windows: ", w.error_message(),
                          "; the windows due wait until a snapshot can be written");
      snapshot_failing_ = true;
    }
  }
  std::size_t n = 0;
  auto it = pending_.begin();
  for (; it != pending_.end() && it->snapshotted; ++it) {
    const policies::window_release& r = it->release;
    if (out.append(it->purpose, r.topic, r.payload, r.expires_at_ms, r.device_id, r.device_class,
                   now_ms, spool::clock::now()) == 0) {
      if (!spool_failing_)
        platform::log_error("windows: the spool did not take a window's release; trying again");
      spool_failing_ = true;
      break;
    }
    spool_failing_ = false;
    ++n;
    if (r.epsilon > 0) stats_.add_epsilon(it->purpose, to_micro(r.epsilon));
    if (options_.record != nullptr) {
      std::vector<std::string_view> fields(r.fields.begin(), r.fields.end());
      options_.record->record_release(r.device_id, r.device_class, it->purpose, fields,
                                      r.payload.size(), now_ms, to_micro(r.epsilon));
    }
  }
  pending_.erase(pending_.begin(), it);
  return n;
}

// ---- purge, compaction, close -------------------------------------------------------------------

platform::result<bool> window_store::compact_locked(bool rotate) {
  const std::uint64_t old_key = key_id_;
  std::uint64_t key = key_id_;
  if (rotate) {
    auto k = new_key_locked();
    if (!k) return platform::error{k.error_message()};
    key = *k;
  }
  if (auto w = write_snapshot_file(sealed_snapshot_locked(key, state_bytes_locked())); !w) {
    if (rotate) {
      keys_.destroy(key_name(key));
      ciphers_.erase(key);
    }
    return platform::error{"windows: " + w.error_message()};
  }
  key_id_ = key;
  // The snapshot holds every entry: the journal starts over.
  if (::ftruncate(journal_fd_, 0) != 0)
    return platform::error{std::string("windows: cannot empty the journal: ") +
                           std::strerror(errno)};
  if (options_.sync != spool_options::durability::none) ::fdatasync(journal_fd_);
  journal_size_ = 0;
  durable_seq_ = appended_seq_;
  if (rotate) {
    keys_.destroy(key_name(old_key));
    ciphers_.erase(old_key);
  }
  return true;
}

std::size_t window_store::purge(std::string_view purpose, spool::scope s, std::string_view value) {
  std::lock_guard io(io_mu_);
  std::lock_guard lock(mu_);
  if (closed_) return 0;
  std::size_t n = agg_->purge(purpose, s == spool::scope::device_class ? value : "",
                              s == spool::scope::device ? value : "");
  const auto before = pending_.size();
  std::erase_if(pending_, [&](const pending_release& p) {
    return matches(p.release, p.purpose, purpose, s, value);
  });
  n += before - pending_.size();
  if (auto r = compact_locked(true); !r) platform::log_error(r.error_message());
  return n;
}

void window_store::note_cap_raise(const cap_raise& raise) {
  std::lock_guard io(io_mu_);
  std::lock_guard lock(mu_);
  if (closed_) return;
  if (cap_raises_.size() >= kMaxCapRaises && cap_raises_.count(raise.purpose) == 0) return;
  cap_raises_[raise.purpose] = raise;
  if (auto r = compact_locked(false); !r) platform::log_error(r.error_message());
}

std::optional<cap_raise> window_store::last_cap_raise(std::string_view purpose) const {
  std::lock_guard lock(mu_);
  if (auto it = cap_raises_.find(purpose); it != cap_raises_.end()) return it->second;
  return std::nullopt;
}

policies::window_aggregator::budget_summary window_store::summary(
    const policies::compiled_policy& policy, std::string_view purpose, std::int64_t now_ms) const {
  std::lock_guard lock(mu_);
  return agg_->summary(policy, purpose, now_ms);
}

std::size_t window_store::open_windows() const {
  std::lock_guard lock(mu_);
  return agg_->open_windows();
}

std::uint64_t window_store::journal_bytes() const {
  std::lock_guard lock(mu_);
  return journal_size_;
}

void window_store::close() {
  {
    std::lock_guard io(io_mu_);
    std::lock_guard lock(mu_);
    if (closed_) return;
    if (auto r = compact_locked(false); !r) platform::log_error(r.error_message());
    if (!pending_.empty()) {
      platform::log_warning("windows: ", pending_.size(),
                            " window releases did not reach the spool before the stop; lost");
      stats_.windows_lost += pending_.size();
      pending_.clear();
    }
    closed_ = true;
    background_cv_.notify_all();
  }
  if (syncer_.joinable()) syncer_.join();
}

}  // namespace portier::gateway
