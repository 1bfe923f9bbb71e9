#include "platform/key_directory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "platform/file.h"
#include "platform/random.h"

namespace portier::platform {

namespace {
bool valid_name(const std::string& n) {
  return !n.empty() && n.size() <= 128 && n.find("..") == std::string::npos &&
         std::all_of(n.begin(), n.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                  c == '.';
         });
}

void sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}
}  // namespace

result<std::unique_ptr<key_directory>> key_directory::open(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return error{dir + ": cannot create key directory"};
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return error{dir + ": not a directory"};
  ::chmod(dir.c_str(), 0700);
  return std::unique_ptr<key_directory>(new key_directory(dir));
}

result<key256> key_directory::create(const std::string& name) {
  if (!valid_name(name)) return error{"invalid key name \"" + name + "\""};
  key256 k{};
  if (auto r = random_bytes(k); !r) return error{r.error_message()};
  std::lock_guard lock(mu_);
  auto w = write_file_atomic(path(name), std::string_view(reinterpret_cast<const char*>(k.data()), k.size()), 0600);
  if (!w) return error{w.error_message()};
  cache_[name] = k;
  return k;
}

std::optional<key256> key_directory::get(const std::string& name) {
  if (!valid_name(name)) return std::nullopt;
  std::lock_guard lock(mu_);
  if (auto it = cache_.find(name); it != cache_.end()) return it->second;
  auto content = read_file(path(name), 64);
  if (!content || content->size() != 32) return std::nullopt;
  key256 k{};
  std::copy(content->begin(), content->end(), k.begin());
  cache_[name] = k;
  return k;
}

bool key_directory::destroy(const std::string& name) {
  if (!valid_name(name)) return false;
  std::lock_guard lock(mu_);
  if (auto it = cache_.find(name); it != cache_.end()) {
    it->second.fill(0);
    cache_.erase(it);
  }
  const std::string p = path(name);
  // Overwrite before unlinking: on simple file systems the old bytes do not linger.
  const int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    const key256 zero{};
    [[maybe_unused]] auto n = ::write(fd, zero.data(), zero.size());
    ::fsync(fd);
    ::close(fd);
  }
  const bool existed = ::unlink(p.c_str()) == 0;
  sync_dir(dir_);
  return existed;
}

}  // namespace portier::platform
