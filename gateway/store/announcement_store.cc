#include "gateway/store/announcement_store.h"

#include <unistd.h>

#include <cerrno>

#include "announcements.pb.h"
#include "platform/file.h"

namespace portier::gateway {

namespace {

constexpr char kFormat[] = "portier.announcements.v1";

// What an entry read back must be to be used: what read_announcement() could have announced.
bool plausible(const ::portier::announcements::Entry& e) {
  return !e.state_topic().empty() && e.state_topic().size() <= 1024 &&
         e.device_class().size() <= policies::kMaxAnnouncedDeviceClass &&
         e.unit().size() <= policies::kMaxAnnouncedUnit;
}

}  // namespace

announcement_store::announcement_store(std::string path, std::size_t max_entries,
                                       std::atomic<std::uint64_t>* evicted_counter)
    : path_(std::move(path)),
      evicted_counter_(evicted_counter),
      table_(max_entries, kEstablishAfterMs) {}

platform::result<std::unique_ptr<announcement_store>> announcement_store::open(
    std::string path, std::size_t max_entries, std::atomic<std::uint64_t>* evicted_counter) {
  std::unique_ptr<announcement_store> s(new announcement_store(path, max_entries, evicted_counter));
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return s;
  auto bytes = platform::read_file(path, kMaxFileBytes);
  if (!bytes) return platform::error{bytes.error_message()};
  ::portier::announcements::Announcements file;
  if (!file.ParseFromString(*bytes) || file.format() != kFormat) {
    s->problem_ = path +
                  ": cannot be decoded; starting with no announcements (devices announce again "
                  "when they reconnect)";
    s->dirty_ = true;  // replace it at the next save
    return s;
  }
  // In eviction order. When max_entries was lowered, the first ones would be evicted first: skip
  // them.
  const int skip = std::max(0, file.entries_size() - static_cast<int>(s->table_.capacity()));
  for (int i = skip; i < file.entries_size(); ++i) {
    const auto& e = file.entries(i);
    if (!plausible(e)) continue;
    segmented_lru<policies::announced_meaning>::entry entry;
    entry.key = e.state_topic();
    entry.value = {e.device_class(), e.unit(), e.opaque()};
    entry.first_seen_ms = e.first_seen_ms();
    entry.last_seen_ms = e.last_seen_ms();
    entry.established = e.established();
    s->table_.restore(std::move(entry));
  }
  s->dirty_ = s->table_.size() != static_cast<std::size_t>(file.entries_size());
  return s;
}

bool announcement_store::find(std::string_view state_topic, std::int64_t now_ms,
                              policies::announced_meaning& out) {
  std::lock_guard lock(mu_);
  const auto* e = table_.touch(state_topic, now_ms);
  if (e == nullptr) return false;
  out = e->value;
  return true;
}

void announcement_store::record(const policies::announcement& a, std::int64_t now_ms) {
  std::unique_lock lock(mu_);
  if (auto* e = table_.touch(a.state_topic, now_ms)) {
    const policies::announced_meaning merged = policies::merge_announcement(&e->value, a);
    if (merged == e->value) return;
    e->value = merged;
  } else {
    table_.insert(a.state_topic, policies::merge_announcement(nullptr, a), now_ms, [&](auto&&) {
      ++evicted_;
      if (evicted_counter_ != nullptr) ++*evicted_counter_;
    });
  }
  const bool was_clean = !dirty_;
  dirty_ = true;
  lock.unlock();
  if (was_clean && notify_) notify_();
}

platform::result<bool> announcement_store::save() {
  std::string bytes;
  {
    std::lock_guard lock(mu_);
    if (!dirty_) return true;
    ::portier::announcements::Announcements file;
    file.set_format(kFormat);
    table_.for_each_eviction_order([&](const segmented_lru<policies::announced_meaning>::entry& e) {
      auto* out = file.add_entries();
      out->set_state_topic(e.key);
      out->set_device_class(e.value.device_class);
      out->set_unit(e.value.unit);
      out->set_opaque(e.value.opaque);
      out->set_first_seen_ms(e.first_seen_ms);
      out->set_last_seen_ms(e.last_seen_ms);
      out->set_established(e.established);
    });
    bytes = file.SerializeAsString();
    dirty_ = false;
  }
  auto w = platform::write_file_atomic(path_, bytes, 0600);
  if (!w) {
    std::lock_guard lock(mu_);
    dirty_ = true;
    return platform::error{w.error_message()};
  }
  return true;
}

std::size_t announcement_store::size() const {
  std::lock_guard lock(mu_);
  return table_.size();
}

std::uint64_t announcement_store::evicted() const {
  std::lock_guard lock(mu_);
  return evicted_;
}

bool announcement_store::dirty() const {
  std::lock_guard lock(mu_);
  return dirty_;
}

}  // namespace portier::gateway
