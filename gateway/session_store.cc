#include "gateway/session_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "platform/crc32.h"
#include "platform/file.h"
#include "platform/little_endian.h"
#include "platform/log.h"
#include "platform/random.h"

namespace portier::gateway {

namespace {

constexpr std::string_view kAad = "portier/mqtt-session/v1";
constexpr std::size_t kHeaderBytes = 8;  // body length, crc
constexpr std::size_t kMinBody = platform::aes_gcm::kNonceBytes + platform::aes_gcm::kTagBytes + 3;
constexpr std::uint32_t kMaxBody = 16u << 20;
constexpr std::uint64_t kTruncateWhenEmpty = 1u << 20;
constexpr std::uint64_t kRewriteAbove = 16u << 20;

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

session_store::session_store(std::string dir, platform::key_directory& keys)
    : dir_(std::move(dir)), path_(dir_ + "/session.log"), keys_(keys) {}

session_store::~session_store() {
  if (fd_ >= 0) ::close(fd_);
}

bool session_store::ensure_cipher_locked() {
  if (cipher_) return true;
  auto key = keys_.get("mqtt-session");
  if (!key) {
    auto made = keys_.create("mqtt-session");
    if (!made) {
      platform::log_error("mqtt session store: ", made.error_message());
      return false;
    }
    key = *made;
  }
  cipher_.emplace(*key);
  if (!platform::random_bytes({nonce_.data(), 8})) return false;
  counter_ = 0;
  return true;
}

void session_store::open(const mqtt::string&, const mqtt::string&) {
  std::lock_guard lock(mu_);
  if (fd_ >= 0) return;
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    platform::log_error("mqtt session store: cannot create ", dir_, ": ", std::strerror(errno));
    throw mqtt::persistence_exception();
  }
  if (!ensure_cipher_locked()) throw mqtt::persistence_exception();
  replay_locked();
  if (!rewrite_locked()) throw mqtt::persistence_exception();
}

void session_store::replay_locked() {
  entries_.clear();
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return;  // none yet
  // Compaction keeps the log below kRewriteAbove plus one record: much larger is not ours.
  auto text = platform::read_file(path_, 2 * kRewriteAbove + kMaxBody);
  if (!text) {
    platform::log_warning("mqtt session store: ", text.error_message(), "; its entries are lost");
    return;
  }
  const std::string& log = *text;
  std::size_t off = 0;
  std::string plain;
  while (off + kHeaderBytes <= log.size()) {
    const std::uint32_t len = platform::get_u32le(log.data() + off);
    if (len < kMinBody || len > kMaxBody || off + kHeaderBytes + len > log.size()) break;
    const std::string_view body(log.data() + off + kHeaderBytes, len);
    if (platform::crc32(body) != platform::get_u32le(log.data() + off + 4)) break;
    platform::aes_gcm::nonce n{};
    std::memcpy(n.data(), body.data(), n.size());
    plain.clear();
    if (!cipher_->open(n, kAad, body.substr(n.size()), plain) || plain.size() < 3) {
      platform::log_warning("mqtt session store: a record failed authentication; the rest of ",
                            path_, " is discarded");
      break;
    }
    const auto o = static_cast<op>(plain[0]);
    const std::size_t klen =
        static_cast<unsigned char>(plain[1]) | (static_cast<unsigned char>(plain[2]) << 8);
    if (3 + klen > plain.size()) break;
    std::string key = plain.substr(3, klen);
    if (o == op::put) {
      entries_[std::move(key)] = plain.substr(3 + klen);
    } else if (o == op::remove) {
      entries_.erase(key);
    } else if (o == op::clear) {
      entries_.clear();
    } else {
      break;
    }
    off += kHeaderBytes + len;
  }
  if (off < log.size()) {
    platform::log_warning("mqtt session store: cut ", log.size() - off,
                          " bytes of torn or corrupt tail off ", path_);
  }
  if (!entries_.empty())
    platform::log_info("mqtt session store: ", entries_.size(), " entries restored");
}

bool session_store::rewrite_locked() {
  std::string log;
  for (const auto& [key, value] : entries_) {
    if (!seal_locked(op::put, key, value)) return false;  // into frame_, a scratch buffer
    log += frame_;
  }
  if (auto w = platform::write_file_atomic(path_, log, 0600); !w) {
    platform::log_error("mqtt session store: ", w.error_message());
    return false;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) {
    platform::log_error("mqtt session store: cannot open ", path_, ": ", std::strerror(errno));
    return false;
  }
  log_bytes_ = log.size();
  return true;
}

bool session_store::seal_locked(op o, std::string_view key, std::string_view value) {
  if (!cipher_ || key.size() > 0xFFFF) return false;
  if (++counter_ == 0) {  // 2^32 records under this prefix: draw a new one
    if (!platform::random_bytes({nonce_.data(), 8})) return false;
  }
  std::memcpy(nonce_.data() + 8, &counter_, 4);
  plain_.clear();
  plain_ += static_cast<char>(o);
  plain_ += static_cast<char>(key.size() & 0xFF);
  plain_ += static_cast<char>(key.size() >> 8);
  plain_.append(key);
  plain_.append(value);
  frame_.resize(kHeaderBytes);
  frame_.append(reinterpret_cast<const char*>(nonce_.data()), nonce_.size());
  cipher_->seal(nonce_, kAad, plain_, frame_);
  const std::string_view body(frame_.data() + kHeaderBytes, frame_.size() - kHeaderBytes);
  if (body.size() > kMaxBody) return false;
  std::string header;
  platform::put_u32le(header, static_cast<std::uint32_t>(body.size()));
  platform::put_u32le(header, platform::crc32(body));
  frame_.replace(0, kHeaderBytes, header);
  return true;
}

bool session_store::append_locked(op o, std::string_view key, std::string_view value) {
  if (fd_ < 0 || !seal_locked(o, key, value)) return false;
  if (!write_all(fd_, frame_.data(), frame_.size())) {
    platform::log_error("mqtt session store: cannot write ", path_, ": ", std::strerror(errno));
    [[maybe_unused]] const int rc = ::ftruncate(fd_, static_cast<off_t>(log_bytes_));
    return false;
  }
  log_bytes_ += frame_.size();
  return true;
}

void session_store::compact_locked() {
  if (entries_.empty() && log_bytes_ >= kTruncateWhenEmpty) {
    if (::ftruncate(fd_, 0) == 0) log_bytes_ = 0;
  } else if (log_bytes_ >= kRewriteAbove) {
    rewrite_locked();
  }
}

void session_store::close() {
  std::lock_guard lock(mu_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void session_store::clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
  if (fd_ >= 0 && ::ftruncate(fd_, 0) == 0) log_bytes_ = 0;
}

bool session_store::contains_key(const mqtt::string& key) {
  std::lock_guard lock(mu_);
  return entries_.count(key) > 0;
}

mqtt::string_collection session_store::keys() const {
  std::lock_guard lock(mu_);
  mqtt::string_collection out;
  for (const auto& [key, value] : entries_) out.push_back(key);
  return out;
}

void session_store::put(const mqtt::string& key, const std::vector<mqtt::string_view>& bufs) {
  std::lock_guard lock(mu_);
  if (fd_ < 0) throw mqtt::persistence_exception();
  std::string value;
  std::size_t n = 0;
  for (const auto& b : bufs) n += b.size();
  value.reserve(n);
  for (const auto& b : bufs) value.append(b.data(), b.size());
  if (!append_locked(op::put, key, value)) throw mqtt::persistence_exception();
  entries_[key] = std::move(value);
  compact_locked();
}

mqtt::string session_store::get(const mqtt::string& key) const {
  std::lock_guard lock(mu_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) throw mqtt::persistence_exception();
  return it->second;
}

void session_store::remove(const mqtt::string& key) {
  std::lock_guard lock(mu_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) throw mqtt::persistence_exception();
  if (!append_locked(op::remove, key, {})) throw mqtt::persistence_exception();
  entries_.erase(it);
  compact_locked();
}

std::size_t session_store::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

std::uint64_t session_store::log_bytes() const {
  std::lock_guard lock(mu_);
  return log_bytes_;
}

}  // namespace portier::gateway
