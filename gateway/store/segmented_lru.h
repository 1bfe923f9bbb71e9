// A bounded map from a string key to V whose eviction resists churn: segmented LRU.
//
// A new entry starts in "probation". Touched again at least `establish_after_ms` after it was
// inserted, it moves to "established". When full, the least recently touched probation entry is
// evicted first; an established entry goes only when probation is empty. A burst of one-shot keys
// (made-up device ids) therefore evicts other one-shot keys, not the devices a household owns.
// Times are the caller's (injected clock); a clock stepped back never demotes anything.
//
// Not thread-safe: the owner locks. Lookups by string_view allocate nothing (transparent hash):
// the admission check runs for every message.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace portier::gateway {

template <typename V>
class segmented_lru {
 public:
  struct entry {
    std::string key;
    V value{};
    std::int64_t first_seen_ms = 0;
    std::int64_t last_seen_ms = 0;
    bool established = false;
  };

  segmented_lru(std::size_t capacity, std::int64_t establish_after_ms)
      : capacity_(std::max<std::size_t>(capacity, 1)), establish_after_ms_(establish_after_ms) {}

  std::size_t size() const { return index_.size(); }
  std::size_t capacity() const { return capacity_; }

  entry* find(std::string_view key) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &*it->second.it;
  }
  const entry* find(std::string_view key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &*it->second.it;
  }

  // Finds the entry and makes it the most recently seen of its segment (promoting it when due).
  entry* touch(std::string_view key, std::int64_t now_ms) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    slot& s = it->second;
    entry& e = *s.it;
    e.last_seen_ms = std::max(e.last_seen_ms, now_ms);
    if (!e.established && now_ms - e.first_seen_ms >= establish_after_ms_) e.established = true;
    std::list<entry>* to = e.established ? &established_ : &probation_;
    if (s.in != to || s.it != to->begin()) {
      to->splice(to->begin(), *s.in, s.it);
      s.in = to;
    }
    return &e;
  }

  // Inserts a key that is not present, first evicting while full; on_evict(entry&&) sees each
  // entry evicted.
  template <typename F>
  entry& insert(std::string key, V value, std::int64_t now_ms, F&& on_evict) {
    while (index_.size() >= capacity_) {
      std::list<entry>& from = probation_.empty() ? established_ : probation_;
      entry gone = std::move(from.back());
      index_.erase(gone.key);
      from.pop_back();
      on_evict(std::move(gone));
    }
    probation_.push_front(entry{std::move(key), std::move(value), now_ms, now_ms, false});
    index_.emplace(probation_.front().key, slot{&probation_, probation_.begin()});
    return probation_.front();
  }

  // Puts back an entry as saved (read in eviction order: each one becomes the most recent of its
  // segment). Ignored when the key is present or the map is full.
  void restore(entry e) {
    if (index_.size() >= capacity_ || index_.find(e.key) != index_.end()) return;
    std::list<entry>& to = e.established ? established_ : probation_;
    to.push_front(std::move(e));
    index_.emplace(to.front().key, slot{&to, to.begin()});
  }

  void clear() {
    index_.clear();
    probation_.clear();
    established_.clear();
  }

  bool erase(std::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    it->second.in->erase(it->second.it);
    index_.erase(it);
    return true;
  }

  // Every entry, first to be evicted first (probation oldest to newest, then established).
  template <typename F>
  void for_each_eviction_order(F&& f) {
    for (auto it = probation_.rbegin(); it != probation_.rend(); ++it) f(*it);
    for (auto it = established_.rbegin(); it != established_.rend(); ++it) f(*it);
  }
  template <typename F>
  void for_each(F&& f) const {
    for (const entry& e : established_) f(e);
    for (const entry& e : probation_) f(e);
  }

 private:
  struct slot {
    std::list<entry>* in;
    typename std::list<entry>::iterator it;
  };
  const std::size_t capacity_;
  const std::int64_t establish_after_ms_;
  std::list<entry> probation_;    // front: most recently seen
  std::list<entry> established_;  // front: most recently seen
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, slot, string_hash, std::equal_to<>> index_;
};

}  // namespace portier::gateway
