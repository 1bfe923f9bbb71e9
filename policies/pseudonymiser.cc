#include "policies/pseudonymiser.h"

#include "platform/base32.h"

namespace portier::policies {

pseudonymiser::pseudonymiser(std::span<const std::uint8_t> gateway_secret, std::span<const std::string> purpose_ids) {
  purposes_.resize(purpose_ids.size());
  for (std::size_t i = 0; i < purpose_ids.size(); ++i) {
    const auto key = platform::hmac_sha256::mac(gateway_secret, "portier/pseudonym/v1/" + purpose_ids[i]);
    purposes_[i].mac = std::make_unique<platform::hmac_sha256>(key);
  }
}

std::string_view pseudonymiser::pseudonym(std::size_t purpose, std::string_view value, std::size_t length) {
  per_purpose& p = purposes_[purpose];
  if (auto it = p.cache.find(value); it != p.cache.end()) return {it->second.data(), length};
  const platform::sha256_digest digest = p.mac->compute(value);
  platform::base32_encode(digest, kMaxLength, scratch_.data());
  if (p.cache.size() >= kCacheEntries) p.cache.clear();
  p.cache.emplace(std::string(value), scratch_);
  return {scratch_.data(), length};
}

}  // namespace portier::policies
