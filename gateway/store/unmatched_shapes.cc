#include "gateway/store/unmatched_shapes.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "platform/file.h"

namespace portier::gateway {

namespace {

constexpr char kFormat[] = "portier.unmatched-shapes.v1";
constexpr std::int64_t kEstablishAfterMs = 60'000;
// Generous upper bound of one serialized shape: a topic of 32 short levels, 64 paths of 8 keys.
constexpr std::size_t kBytesPerShape = 24 * 1024;
constexpr std::size_t kMaxTopicBytes = 1024;

}  // namespace

unmatched_shapes::unmatched_shapes(unmatched_shapes_options options)
    : options_(std::move(options)), table_(options_.max_shapes, kEstablishAfterMs) {}

std::unique_ptr<unmatched_shapes> unmatched_shapes::open(unmatched_shapes_options options,
                                                         std::string& problem) {
  problem.clear();
  std::unique_ptr<unmatched_shapes> t(new unmatched_shapes(std::move(options)));
  const std::string& path = t->options_.path;
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return t;
  auto bytes = platform::read_file(path, 64 + kBytesPerShape * t->options_.max_shapes);
  if (!bytes) {
    problem = bytes.error_message();
    return t;
  }
  unmatched::ShapesFile file;
  if (!file.ParseFromString(*bytes) || file.format() != kFormat) {
    problem = path + ": the unmatched shapes cannot be decoded";
    return t;
  }
  // Saved first to be evicted first: beyond max_shapes (it was lowered), the first ones go.
  const int skip = std::max(0, file.shape_size() - static_cast<int>(t->options_.max_shapes));
  for (int i = skip; i < file.shape_size(); ++i) {
    const unmatched::Shape& s = file.shape(i);
    if (s.topic().empty() || s.topic().size() > kMaxTopicBytes) continue;
    table::entry e;
    e.key = s.topic();
    e.value.messages = s.messages();
    for (const auto& f : s.formats()) e.value.payload.formats |= policies::shape_format_bit(f);
    for (const auto& p : s.path()) {
      policies::shape_path sp{p.path(), 0};
      for (const auto& type : p.types()) sp.types |= policies::shape_type_bit(type);
      e.value.payload.paths.push_back(std::move(sp));
    }
    auto& paths = e.value.payload.paths;
    std::sort(paths.begin(), paths.end(),
              [](const auto& a, const auto& b) { return a.path < b.path; });
    paths.erase(std::unique(paths.begin(), paths.end(),
                            [](const auto& a, const auto& b) { return a.path == b.path; }),
                paths.end());
    if (paths.size() > policies::kMaxShapePaths) paths.resize(policies::kMaxShapePaths);
    e.value.payload.truncated = s.paths_truncated();
    e.first_seen_ms = s.first_seen_ms();
    e.last_seen_ms = s.last_seen_ms();
    e.established = s.established();
    t->table_.restore(std::move(e));
  }
  t->dirty_ = skip > 0;
  return t;
}

void unmatched_shapes::record(const std::shared_ptr<const policies::compiled_policy>& policy,
                              std::string_view topic, std::string_view payload,
                              std::int64_t now_ms) {
  if (!vocabulary_ || vocabulary_policy_.lock() != policy) {
    vocabulary_ = policy ? std::make_unique<policies::shape_vocabulary>(*policy)
                         : std::make_unique<policies::shape_vocabulary>();
    vocabulary_policy_ = policy;
  }
  const std::string key = policies::topic_shape(topic, *vocabulary_);
  const policies::payload_shape seen = policies::payload_shape_of(payload);
  std::unique_lock lock(mu_);
  table::entry* e = table_.touch(key, now_ms);
  if (e == nullptr) {
    e = &table_.insert(key, shape{}, now_ms, [&](table::entry&&) {
      ++evicted_;
      if (options_.evicted_counter) ++*options_.evicted_counter;
    });
  }
  ++e->value.messages;
  policies::merge_payload_shape(e->value.payload, seen);
  const bool was_clean = !dirty_;
  dirty_ = true;
  lock.unlock();
  if (was_clean && notify_) notify_();
}

void unmatched_shapes::to_proto(const table::entry& e, unmatched::Shape& out) {
  out.set_topic(e.key);
  out.set_messages(e.value.messages);
  out.set_first_seen_ms(e.first_seen_ms);
  out.set_last_seen_ms(e.last_seen_ms);
  for (auto& f : policies::shape_format_names(e.value.payload.formats)) out.add_formats(f);
  for (const auto& p : e.value.payload.paths) {
    auto* sp = out.add_path();
    sp->set_path(p.path);
    for (auto& t : policies::shape_type_names(p.types)) sp->add_types(t);
  }
  out.set_paths_truncated(e.value.payload.truncated);
  out.set_established(e.established);
}

std::vector<unmatched::Shape> unmatched_shapes::list() const {
  std::vector<unmatched::Shape> out;
  {
    std::lock_guard lock(mu_);
    out.reserve(table_.size());
    table_.for_each([&](const table::entry& e) { to_proto(e, out.emplace_back()); });
  }
  std::sort(out.begin(), out.end(), [](const unmatched::Shape& a, const unmatched::Shape& b) {
    return a.messages() != b.messages() ? a.messages() > b.messages() : a.topic() < b.topic();
  });
  return out;
}

std::size_t unmatched_shapes::size() const {
  std::lock_guard lock(mu_);
  return table_.size();
}

platform::result<std::size_t> unmatched_shapes::clear() {
  std::lock_guard io(io_mu_);
  std::size_t n = 0;
  {
    std::lock_guard lock(mu_);
    n = table_.size();
    table_.clear();
    dirty_ = false;
  }
  std::error_code ec;
  std::filesystem::remove(options_.path, ec);
  if (ec) return platform::error{options_.path + ": " + ec.message()};
  return n;
}

platform::result<bool> unmatched_shapes::save() {
  std::lock_guard io(io_mu_);
  std::string bytes;
  {
    std::lock_guard lock(mu_);
    if (!dirty_) return true;
    unmatched::ShapesFile file;
    file.set_format(kFormat);
    table_.for_each_eviction_order([&](const table::entry& e) { to_proto(e, *file.add_shape()); });
    bytes = file.SerializeAsString();
    dirty_ = false;
  }
  auto w = platform::write_file_atomic(options_.path, bytes, 0600);
  if (!w) {
    std::lock_guard lock(mu_);
    dirty_ = true;  // try again at the next save
    return platform::error{w.error_message()};
  }
  return true;
}

std::optional<std::chrono::steady_clock::time_point> unmatched_shapes::next_save() const {
  {
    std::lock_guard lock(mu_);
    if (!dirty_) return std::nullopt;
  }
  if (last_save_ == std::chrono::steady_clock::time_point{}) return last_save_;
  return last_save_ + options_.save_interval;
}

platform::result<bool> unmatched_shapes::save_if_due(std::chrono::steady_clock::time_point now) {
  {
    std::lock_guard lock(mu_);
    if (!dirty_) return true;
  }
  if (last_save_ != std::chrono::steady_clock::time_point{} &&
      now - last_save_ < options_.save_interval) {
    return true;
  }
  last_save_ = now;
  return save();
}

}  // namespace portier::gateway
