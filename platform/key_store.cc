#include "platform/key_store.h"

#include <sys/stat.h>

#include <cerrno>

#include "platform/file.h"
#include "platform/random.h"

namespace portier::platform {

result<std::vector<std::uint8_t>> load_or_create_secret(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if ((st.st_mode & 077) != 0) {
      return error{path + ": secret is readable by group or others; chmod 600 it"};
    }
    auto content = read_file(path, kSecretBytes + 1);
    if (!content) return error{content.error_message()};
    if (content->size() != kSecretBytes) {
      return error{path + ": secret must be exactly " + std::to_string(kSecretBytes) + " bytes"};
    }
    return std::vector<std::uint8_t>(content->begin(), content->end());
  }
  if (errno != ENOENT) return error{path + ": cannot stat secret"};
  std::vector<std::uint8_t> secret(kSecretBytes);
  if (auto r = random_bytes(secret); !r) return error{r.error_message()};
  auto w = write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(secret.data()), secret.size()), 0600);
  if (!w) return error{w.error_message()};
  return secret;
}

}  // namespace portier::platform
