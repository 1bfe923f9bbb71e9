#include "gateway/store/ledger_device_keys.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ledger.pb.h"
#include "platform/file.h"
#include "platform/random.h"

namespace portier::gateway {

namespace {

constexpr char kFormat[] = "portier.ledger-device-keys.v1";
constexpr std::int64_t kEstablishAfterMs = 60'000;
constexpr std::size_t kBytesPerKey = 128;  // generous upper bound of one serialized DeviceKey

}  // namespace

ledger_device_keys::ledger_device_keys(std::string path, std::size_t max_devices)
    : path_(std::move(path)), table_(max_devices, kEstablishAfterMs) {}

platform::result<std::unique_ptr<ledger_device_keys>> ledger_device_keys::open(
    std::string path, std::size_t max_devices) {
  std::unique_ptr<ledger_device_keys> t(new ledger_device_keys(path, max_devices));
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return t;
  auto text = platform::read_file(path, 16 + 2 * kBytesPerKey * 65536);
  if (!text) return platform::error{text.error_message()};
  ::portier::ledger::DeviceKeys file;
  if (!file.ParseFromString(*text) || file.format() != kFormat) {
    return platform::error{path + ": the ledger's device keys cannot be decoded"};
  }
  // The file lists the keys in eviction order. More than max_devices allows now (it was
  // lowered): the first to be evicted go, so that the most recent and established ones are kept.
  int valid = 0;
  for (const auto& k : file.keys()) valid += k.key().size() == 32 && k.key_id() != 0 ? 1 : 0;
  int skip = valid - static_cast<int>(std::min<std::size_t>(max_devices, valid));
  for (const auto& k : file.keys()) {
    if (k.key().size() != 32 || k.key_id() == 0 || t->by_key_id_.count(k.key_id()) != 0) continue;
    if (skip > 0) {
      --skip;
      continue;
    }
    segmented_lru<device_key>::entry e;
    e.key = k.ref();
    e.value.key_id = k.key_id();
    std::memcpy(e.value.key.data(), k.key().data(), 32);
    e.first_seen_ms = k.first_seen_ms();
    e.last_seen_ms = k.last_seen_ms();
    e.established = k.established();
    const std::size_t before = t->table_.size();
    t->table_.restore(std::move(e));
    if (t->table_.size() > before) t->by_key_id_.emplace(k.key_id(), k.ref());
  }
  t->dirty_ = t->table_.size() < static_cast<std::size_t>(file.keys_size());
  t->file_bytes_ = text->size();
  return t;
}

std::optional<ledger_device_keys::device_key> ledger_device_keys::get(
    std::string_view ref, bool create, std::int64_t now_ms, std::vector<std::uint64_t>& evicted) {
  if (auto* e = table_.touch(ref, now_ms)) return e->value;
  if (!create) return std::nullopt;
  device_key k;
  for (int attempt = 0; attempt < 8 && k.key_id == 0; ++attempt) {
    std::uint8_t raw[8];
    if (!platform::random_bytes(raw)) return std::nullopt;
    std::uint64_t id = 0;
    for (std::uint8_t b : raw) id = (id << 8) | b;
    if (id != 0 && by_key_id_.count(id) == 0) k.key_id = id;
  }
  if (k.key_id == 0 || !platform::random_bytes(k.key)) return std::nullopt;
  table_.insert(std::string(ref), k, now_ms, [&](segmented_lru<device_key>::entry&& gone) {
    by_key_id_.erase(gone.value.key_id);
    evicted.push_back(gone.value.key_id);
  });
  by_key_id_.emplace(k.key_id, std::string(ref));
  dirty_ = true;
  return k;
}

std::optional<platform::key256> ledger_device_keys::key(std::uint64_t key_id) const {
  auto it = by_key_id_.find(key_id);
  if (it == by_key_id_.end()) return std::nullopt;
  const auto* e = table_.find(it->second);
  if (e == nullptr) return std::nullopt;
  return e->value.key;
}

std::optional<std::uint64_t> ledger_device_keys::key_id_of(std::string_view ref) const {
  const auto* e = table_.find(ref);
  if (e == nullptr) return std::nullopt;
  return e->value.key_id;
}

bool ledger_device_keys::drop(std::uint64_t key_id) {
  auto it = by_key_id_.find(key_id);
  if (it == by_key_id_.end()) return false;
  table_.erase(it->second);
  by_key_id_.erase(it);
  dirty_ = true;
  return true;
}

void ledger_device_keys::adopt(std::string ref, device_key k, std::int64_t now_ms) {
  if (k.key_id == 0 || by_key_id_.count(k.key_id) != 0 || table_.find(ref) != nullptr) return;
  table_.insert(ref, k, now_ms, [&](segmented_lru<device_key>::entry&& gone) {
    by_key_id_.erase(gone.value.key_id);
  });
  by_key_id_.emplace(k.key_id, std::move(ref));
  dirty_ = true;
}

platform::result<bool> ledger_device_keys::save() {
  if (!dirty_) return true;
  ::portier::ledger::DeviceKeys file;
  file.set_format(kFormat);
  table_.for_each_eviction_order([&](const segmented_lru<device_key>::entry& e) {
    auto* k = file.add_keys();
    k->set_ref(e.key);
    k->set_key_id(e.value.key_id);
    k->set_key(e.value.key.data(), e.value.key.size());
    k->set_first_seen_ms(e.first_seen_ms);
    k->set_last_seen_ms(e.last_seen_ms);
    k->set_established(e.established);
  });
  const std::string bytes = file.SerializeAsString();
  auto w = platform::write_file_atomic(path_, bytes, 0600);
  if (!w) return platform::error{w.error_message()};
  dirty_ = false;
  file_bytes_ = bytes.size();
  return true;
}

}  // namespace portier::gateway
